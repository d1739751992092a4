/**
 * The RPC services served by connect-node (Connect, gRPC, gRPC-Web): every
 * service registered once, with the one router-wide interceptor, and the
 * path → operation label of each method for metrics and admission.
 */
import { createContextValues } from "@connectrpc/connect";
import type { Config } from "../config/load-config.js";
import { registerAuthService } from "../http/auth-rpc.js";
import { registerCardService, registerDeviceCardService } from "../http/card-rpc.js";
import { bodyFailingAtDeadline } from "../http/deadline.js";
import { registerGatewayService } from "../http/gateway-rpc.js";
import { registerInitiateService } from "../http/initiate-rpc.js";
import type { NodeHandler } from "../http/node-types.js";
import { kRequestState, requestStateOf } from "../http/request-state.js";
import { createRpcHandler } from "../http/rpc-adapter.js";
import { refusalAndDeadlineInterceptor } from "../http/rpc-interceptor.js";
import { answerRouteNotFound } from "../http/rpc-refusals.js";
import { registerSessionService } from "../http/session-rpc.js";
import { registerHealth } from "../ops/health.js";
import { registerReflection } from "../ops/reflection.js";
import type { App } from "./app.js";

/** The connect handler and what it serves. */
export interface RpcServices {
  readonly handler: NodeHandler;
  /** Each RPC path served and its operation label in metrics ("Service/Method"). */
  readonly paths: ReadonlyMap<string, string>;
}

/** Registers every service on one connect router behind one Node handler. */
export function createRpcServices(app: App, config: Config): RpcServices {
  const apiKeys = config.auth.apiKeys;
  let paths: ReadonlyMap<string, string> = new Map();
  const handler = createRpcHandler({
    // Admission refusals and the server deadline apply to every service.
    interceptors: [refusalAndDeadlineInterceptor()],
    routes: (router) => {
      registerInitiateService(router, app.core);
      registerAuthService(router, app.tokens, apiKeys);
      registerGatewayService(router, app.checks, app.notifications);
      registerSessionService(router, app.sessionQueries, app.watcher, apiKeys);
      registerDeviceCardService(router, app.deviceCards);
      registerCardService(router, app.cardQueries, apiKeys);
      registerHealth(router, { state: app.state });
      // Last: reflection describes every service registered before it.
      registerReflection(router);
      paths = new Map(router.handlers.map((h) => [h.requestPath, `${h.service.name}/${h.method.name}`]));
    },
    readMaxBytes: config.limits.maxBodyBytes,
    contextValues: (req) => createContextValues().set(kRequestState, requestStateOf(req)),
    // A body still arriving at the deadline fails, and connect answers that in the caller's protocol.
    wrapBody: (req, body) => bodyFailingAtDeadline(requestStateOf(req), body),
    // An unknown RPC gets UNIMPLEMENTED in its protocol, anything else the JSON 404.
    fallback: answerRouteNotFound,
  });
  return { handler, paths };
}
