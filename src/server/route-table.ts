/**
 * The routes every request is tried against, in order: guards (request
 * shape, header size, gateway peers), admission, the operator's endpoints,
 * the JSON paths, the fast gRPC/Connect routes, and last connect-node.
 */
import { GatewayService } from "../../gen/toptechpay/gateway/v1/gateway_pb.js";
import type { Config } from "../config/load-config.js";
import type { Admission } from "../http/admission.js";
import { callbackRoute, isCallbackPath } from "../http/callback-route.js";
import { cardJsonRoute } from "../http/card-json-route.js";
import { checkJsonRoute, matchCheckPath } from "../http/check-json-route.js";
import { connectUnaryRoute } from "../http/connect-unary-route.js";
import { armDeadline, withDeadline } from "../http/deadline.js";
import { createPeerCheck, gatewayPeerRoute } from "../http/gateway-peers.js";
import { grpcUnaryRoute } from "../http/grpc-unary-route.js";
import { headerListLimit } from "../http/header-limit.js";
import { initiateJsonRoute } from "../http/initiate-json-route.js";
import { matchNotificationPath, notificationJsonRoute } from "../http/notification-json-route.js";
import { openIssuanceRoute } from "../http/open-issuance-route.js";
import { opsRoutes } from "../http/ops-routes.js";
import { requestGuardRoute } from "../http/request-guards.js";
import type { LastRoute } from "../http/request-listener.js";
import { requestIdOf } from "../http/request-state.js";
import type { Route } from "../http/route.js";
import { WATCH_SESSION_PATH } from "../http/session-rpc.js";
import type { App } from "./app.js";
import type { RpcServices } from "./rpc-services.js";

/**
 * How long past `limits.watchMaxSeconds` a watch's stream is cut when it has
 * not ended by itself: its caller stopped reading, so the core's own end
 * cannot be delivered (then a second more to flush, as every deadline).
 */
const WATCH_BACKSTOP_MS = 2000;

/** What the table routes to besides the app. */
export interface RouteTableParts {
  readonly rpc: RpcServices;
  readonly admission: Admission;
  /** false: no fast routes, connect-node serves every RPC (the parity test's seam). */
  readonly fastRoutes: boolean;
}

/** The routes in the order they are tried, and the last: connect-node, which serves or refuses the rest. */
export function routeTable(app: App, config: Config, parts: RouteTableParts): { routes: Route[]; last: LastRoute } {
  const deadlineMs = config.limits.requestTimeoutMs;
  const body = { maxBodyBytes: config.limits.maxBodyBytes };
  const lean = { ...body, requestTimeoutMs: deadlineMs };
  const routes = [
    requestGuardRoute,
    headerListLimit(config.limits.maxHeaderBytes),
    // Only with gateway.allowFrom set: without it every peer may call, and no
    // request should pay for matching the gateway's paths.
    ...(config.gateway.allowFrom === undefined
      ? []
      : [
          gatewayPeerRoute(
            createPeerCheck(config.gateway.allowFrom, config.gateway.trustedProxies),
            (path) =>
              matchCheckPath(path) !== undefined ||
              isCallbackPath(path) ||
              matchNotificationPath(path) !== undefined ||
              path.startsWith(`/${GatewayService.typeName}/`),
          ),
        ]),
    parts.admission.route,
    opsRoutes(app.state, app.metrics),
    withDeadline(initiateJsonRoute(app.core, body), deadlineMs),
    withDeadline(checkJsonRoute(app.checks, body), deadlineMs),
    withDeadline(callbackRoute(app.callbacks, body), deadlineMs),
    withDeadline(notificationJsonRoute(app.notifications, body), deadlineMs),
    // The app's cards: not gateway-facing, so gateway.allowFrom does not apply.
    withDeadline(cardJsonRoute(app.deviceCards, body), deadlineMs),
    ...(config.auth.openIssuance ? [withDeadline(openIssuanceRoute(app.tokens, body), deadlineMs)] : []),
    // The hot gRPC and Connect cases; anything they do not take goes on to connect.
    ...(parts.fastRoutes ? [grpcUnaryRoute(app.core, lean), connectUnaryRoute(app.core, lean)] : []),
  ];
  const watchBackstopMs = config.limits.watchMaxSeconds * 1000 + WATCH_BACKSTOP_MS;
  const last: LastRoute = (req, res, path, log) => {
    // connect writes its own headers; this one goes in first.
    res.setHeader("x-request-id", requestIdOf(res));
    // Once it streams, a watch is exempt from the request deadline, not from
    // every bound; until its request message is read it has the deadline.
    const watch = path === WATCH_SESSION_PATH;
    if (watch) log.streamBoundMs = watchBackstopMs;
    // Answered at expiry by the body or the interceptor, in connect's words.
    armDeadline(req, res, log, { ms: deadlineMs, restartable: watch }, () => undefined);
    // An unknown path gets the JSON 404, an unknown RPC UNIMPLEMENTED (rpc-services.ts).
    parts.rpc.handler(req, res);
  };
  return { routes, last };
}
