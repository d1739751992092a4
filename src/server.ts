/**
 * The server factory: builds the store, the core and every protocol adapter
 * from a Config, and listens only when asked to. `src/main.ts` runs it; tests
 * create it on an ephemeral port.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import type { Logger } from "pino";
import { GatewayService } from "../gen/toptechpay/gateway/v1/gateway_pb.js";
import type { Config } from "./config/load-config.js";
import { type AccessTokens, createAccessTokens } from "./core/access-tokens.js";
import { createCheckService } from "./core/check-service.js";
import { createEndpointDirectory } from "./core/endpoints.js";
import { ERROR_CATALOGUE } from "./core/error-catalogue.js";
import { createRequestFilter } from "./core/filters/evaluate.js";
import { buildFilterRules } from "./core/filters/rules.js";
import { createInitiateService, type InitiateService } from "./core/initiate-service.js";
import { createSessionQueries } from "./core/session-queries.js";
import { createAdmission } from "./http/admission.js";
import { authRoutes } from "./http/auth-routes.js";
import { checkRoutes, matchCheckPath } from "./http/check-routes.js";
import { answerClientErrors } from "./http/client-errors.js";
import { connectUnaryRoute } from "./http/connect-unary-route.js";
import { armDeadline, bodyFailingAtDeadline, withDeadline } from "./http/deadline.js";
import { createPeerCheck, gatewayPeerRoute } from "./http/gateway-peers.js";
import { gatewayRoutes } from "./http/gateway-routes.js";
import { grpcUnaryRoute } from "./http/grpc-unary-route.js";
import { headerListLimit } from "./http/header-limit.js";
import { limitSession } from "./http/http2-session-limits.js";
import { initiateJsonRoute } from "./http/initiate-json-route.js";
import { initiateRoutes } from "./http/initiate-routes.js";
import type { NodeHandler } from "./http/node-types.js";
import { OPEN_ISSUANCE_PATH, openIssuanceRoute } from "./http/open-issuance-route.js";
import { OPS_PATHS, opsRoutes } from "./http/ops-routes.js";
import { createSniffingServer, createTlsServer } from "./http/protocol-sniffer.js";
import { requestGuardRoute, routeParserRefusals } from "./http/request-guards.js";
import { createRequestListener } from "./http/request-listener.js";
import { kRequestLog, requestIdOf, requestLogOf } from "./http/request-log.js";
import type { Route } from "./http/route.js";
import { createRpcHandler } from "./http/rpc-adapter.js";
import { refusalAndDeadlineInterceptor } from "./http/rpc-interceptor.js";
import { answerRouteNotFound } from "./http/rpc-refusals.js";
import { sessionRoutes } from "./http/session-routes.js";
import { createServingState, registerHealth } from "./ops/health.js";
import { createMetrics, type Metrics } from "./ops/metrics.js";
import { registerReflection } from "./ops/reflection.js";
import { drain } from "./ops/shutdown.js";
import { type AppStore, openStore } from "./store/open-store.js";

/** A built server, not yet listening. */
export interface AppServer {
  readonly core: InitiateService;
  readonly store: AppStore;
  /** Issues, checks and revokes access tokens (tests issue tokens through it). */
  readonly tokens: AccessTokens;
  /** This server's Prometheus registry and instruments (served at /metrics). */
  readonly metrics: Metrics;
  /**
   * Opens the store (PostgreSQL: connects and migrates; rejects with
   * StoreUnavailableError when it cannot), then listens on the configured
   * host and port (0: any free port).
   */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Stops taking connections, lets requests in flight finish (at most
   * `graceMs`), closes idle HTTP/1.1 and HTTP/2 connections, then the store.
   */
  close(graceMs?: number): Promise<void>;
}

/** Test seams of the factory. */
export interface ServerSeams {
  /**
   * false: no fast routes (grpc-unary-route.ts, connect-unary-route.ts), so
   * connect-node serves every RPC; the parity test compares the two.
   */
  readonly fastRoutes?: boolean;
}

/** Builds the server from configuration. */
export function createServer(config: Config, logger: Logger, seams: ServerSeams = {}): AppServer {
  const metrics = createMetrics();
  // Every store call is timed in cp_store_duration_seconds.
  const store = metrics.instrumentStore(openStore(config.store, logger));
  const state = createServingState(store);
  // The merchant's risk rules, built once; velocity counts go through the store.
  const filters = createRequestFilter(buildFilterRules(config.filters), { velocityStore: store });
  const tokens = metrics.countingIssuance(
    createAccessTokens({ store, defaultLifetimeSeconds: config.auth.tokenLifetimeSeconds }),
  );
  const endpoints = createEndpointDirectory(config.endpoints);
  const core = createInitiateService({
    endpoints,
    store,
    filters,
    checkAccessToken: tokens.check,
  });
  const checks = createCheckService({
    endpoints,
    sessions: store,
    tokens: store,
    checkWindowMs: config.gateway.checkWindowMs,
  });
  const sessionQueries = createSessionQueries(store);
  if (config.auth.openIssuance) {
    logger.warn(
      { path: OPEN_ISSUANCE_PATH },
      "open token issuance is on: anyone can get access tokens (development only)",
    );
  }

  // Paths served by the RPC handler, and the operation label of each in metrics.
  const rpcPaths = new Map<string, string>();
  const connectHandler = createRpcHandler({
    // Admission refusals and the server deadline apply to every service.
    interceptors: [refusalAndDeadlineInterceptor()],
    routes: (router) => {
      initiateRoutes(core)(router);
      authRoutes(tokens, { apiKeys: config.auth.apiKeys })(router);
      gatewayRoutes(checks)(router);
      sessionRoutes(sessionQueries, { apiKeys: config.auth.apiKeys })(router);
      registerHealth(router, { state, router });
      // Last: reflection describes every service registered before it.
      registerReflection(router);
      for (const h of router.handlers) rpcPaths.set(h.requestPath, `${h.service.name}/${h.method.name}`);
    },
    readMaxBytes: config.limits.maxBodyBytes,
    contextValues: (req) => createContextValues().set(kRequestLog, requestLogOf(req)),
    // A body still arriving at the deadline fails, and connect answers that in the caller's protocol.
    wrapBody: (req, body) => bodyFailingAtDeadline(requestLogOf(req), body),
    // An unknown RPC gets UNIMPLEMENTED in its protocol, anything else the JSON 404.
    fallback: answerRouteNotFound,
  });
  const admission = createAdmission({
    maxInFlight: config.limits.maxInFlight,
    isDraining: () => state.draining,
    // Probes, metrics and reflection must answer even when the server is full.
    isExempt: (path) =>
      OPS_PATHS.has(path) || path.startsWith("/grpc.health.v1.Health/") || path.startsWith("/grpc.reflection."),
    isRpc: (path) => rpcPaths.has(path),
    deadlineMs: config.limits.requestTimeoutMs,
  });
  metrics.readInFlightFrom(() => admission.inFlight);
  const deadlineMs = config.limits.requestTimeoutMs;
  const routes: Route[] = [
    requestGuardRoute,
    headerListLimit(config.limits.maxHeaderBytes),
    gatewayPeerRoute(
      createPeerCheck(config.gateway.allowFrom, config.gateway.trustedProxies),
      (path) => matchCheckPath(path) !== undefined || path.startsWith(`/${GatewayService.typeName}/`),
    ),
    admission.route,
    opsRoutes(state, metrics),
    withDeadline(initiateJsonRoute(core, { maxBodyBytes: config.limits.maxBodyBytes }), deadlineMs),
    withDeadline(checkRoutes(checks, { maxBodyBytes: config.limits.maxBodyBytes }), deadlineMs),
    ...(config.auth.openIssuance
      ? [withDeadline(openIssuanceRoute(tokens, { maxBodyBytes: config.limits.maxBodyBytes }), deadlineMs)]
      : []),
    // The hot gRPC and Connect cases; anything they do not take goes on to connect.
    ...(seams.fastRoutes === false
      ? []
      : [
          grpcUnaryRoute(core, { maxBodyBytes: config.limits.maxBodyBytes, requestTimeoutMs: deadlineMs }),
          connectUnaryRoute(core, { maxBodyBytes: config.limits.maxBodyBytes, requestTimeoutMs: deadlineMs }),
        ]),
    (req, res, _path, log) => {
      // connect writes its own headers; this one goes in first.
      res.setHeader("x-request-id", requestIdOf(res));
      // Answered at expiry by the body (above) or the interceptor, in connect's words.
      armDeadline(req, res, log, { ms: deadlineMs }, () => undefined);
      connectHandler(req, res);
      return true;
    },
  ];
  const operationLabel = (path: string, operation: string | undefined): string =>
    operation ??
    rpcPaths.get(path) ??
    (OPS_PATHS.has(path) ? path.slice(1) : path === OPEN_ISSUANCE_PATH ? "open-issuance" : "other");
  // Every request started and not yet ended; shutdown waits for these.
  let active = 0;
  const served: NodeHandler = createRequestListener(logger, routes, (line, log) => {
    active--;
    admission.release(log);
    metrics.observeRequest({
      operation: operationLabel(line.path, line.operation),
      protocol: line.protocol,
      outcome: line.outcome,
      cause: line.cause,
      code: line.code,
      seconds: line.durationMs / 1000,
    });
  });
  const listener: NodeHandler = (req, res) => {
    active++;
    served(req, res);
  };

  const sockets = new Set<Socket>();
  const sessions = new Set<http2.Http2Session>();
  const trackSession = (session: http2.Http2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
  };
  const trackSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };

  // Requests node:http refuses before any route sees them get the error body too.
  const clientErrors = answerClientErrors(logger, (code) =>
    metrics.observeRequest({
      operation: "other",
      protocol: "http",
      outcome: "error",
      cause: ERROR_CATALOGUE[code].cause,
      code,
      seconds: 0,
    }),
  );
  const limits = config.limits;
  // One HTTP/1.1 and one HTTP/2 server behind the one port, plain text or
  // TLS (protocol-sniffer.ts), so both get the same limits either way.
  const http1 = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      // Node's bound on receiving a whole request: a backstop past the request
      // deadline (which answers a body still arriving itself, once), never
      // under the headers timeout.
      requestTimeout: Math.max(limits.requestTimeoutMs + 1000, limits.headersTimeoutMs),
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // How often the two timeouts above are checked (Node's default is 30 s).
      connectionsCheckingInterval: Math.min(1000, Math.max(100, Math.floor(limits.headersTimeoutMs / 4))),
    },
    listener,
  );
  // http1 never listens itself (the front hands it sockets), and node:http
  // starts tracking connections, which the timeouts and closeIdleConnections()
  // rely on, only on "listening".
  http1.emit("listening");
  http1.on("clientError", clientErrors);
  routeParserRefusals(http1, listener);
  const h2 = http2.createServer(
    { settings: { maxConcurrentStreams: limits.http2MaxConcurrentStreams, maxHeaderListSize: limits.maxHeaderBytes } },
    listener,
  );
  routeParserRefusals(h2, listener);
  // The socket under each new session ("session" follows "connection" at once).
  let handed: Socket | undefined;
  h2.prependListener("connection", (socket: Socket) => {
    handed = socket;
  });
  h2.on("session", (session: http2.ServerHttp2Session) => {
    trackSession(session);
    if (handed) limitSession(session, handed, limits);
    handed = undefined;
  });
  const targets = { http1, http2: h2, firstByteTimeoutMs: limits.headersTimeoutMs };
  const front: NetServer = config.server.tls
    ? createTlsServer(targets, config.server.tls)
    : createSniffingServer(targets);
  front.on("connection", trackSocket);

  return {
    core,
    store,
    tokens,
    metrics,
    listen: async () => {
      await store.ready();
      return new Promise((resolve, reject) => {
        front.once("error", reject);
        front.listen(config.server.port, config.server.host, () => {
          front.off("error", reject);
          const { port } = front.address() as AddressInfo;
          const host = config.server.host;
          const shown = host.includes(":") ? `[${host}]` : host;
          resolve({ host, port, url: `${config.server.tls ? "https" : "http"}://${shown}:${port}` });
        });
      });
    },
    async close(graceMs = config.shutdown.graceSeconds * 1000) {
      // Readiness and Health turn NOT_SERVING; new requests get SHUTTING_DOWN.
      state.startDraining();
      await drain({ front, http1, sessions, sockets, activeRequests: () => active }, graceMs);
      // After the last answer, so the last write is in.
      await store.close();
    },
  };
}
