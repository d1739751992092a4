/**
 * The server factory: builds the app (server/app.ts), its RPC services and
 * route table, and the transport, and listens only when asked to.
 * `src/main.ts` runs it; tests create it on an ephemeral port.
 */
import type { Logger } from "pino";
import type { Config } from "./config/load-config.js";
import type { AccessTokens } from "./core/access-tokens.js";
import type { Initiator } from "./core/initiator.js";
import { createAdmission } from "./http/admission.js";
import { answerClientErrors } from "./http/client-errors.js";
import type { NodeHandler } from "./http/node-types.js";
import { OPEN_ISSUANCE_PATH } from "./http/open-issuance-route.js";
import { OPS_PATHS } from "./http/ops-routes.js";
import { createRequestListener } from "./http/request-listener.js";
import { WATCH_SESSION_PATH } from "./http/session-rpc.js";
import type { Metrics } from "./ops/metrics.js";
import { drain } from "./ops/shutdown.js";
import { createApp } from "./server/app.js";
import { observeParserRefusal, observeRequest } from "./server/request-metrics.js";
import { routeTable } from "./server/route-table.js";
import { createRpcServices } from "./server/rpc-services.js";
import { createTransport } from "./server/transport.js";
import type { AppStore } from "./store/open-store.js";

/** A built server, not yet listening. */
export interface AppServer {
  readonly core: Initiator;
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
  const app = createApp(config, logger);
  if (config.auth.openIssuance) {
    logger.warn(
      { path: OPEN_ISSUANCE_PATH },
      "open token issuance is on: anyone can get access tokens (development only)",
    );
  }
  const rpc = createRpcServices(app, config);
  const admission = createAdmission({
    maxInFlight: config.limits.maxInFlight,
    isDraining: () => app.state.draining,
    // Probes, metrics and reflection must answer even when the server is full;
    // a watch lasts minutes and has its own limit (limits.maxWatches), so it
    // never holds a place the payments need.
    isExempt: (path) =>
      OPS_PATHS.has(path) ||
      path === WATCH_SESSION_PATH ||
      path.startsWith("/grpc.health.v1.Health/") ||
      path.startsWith("/grpc.reflection."),
    isRpc: (path) => rpc.paths.has(path),
    deadlineMs: config.limits.requestTimeoutMs,
  });
  app.metrics.readInFlightFrom(() => admission.inFlight);
  const { routes, last } = routeTable(app, config, { rpc, admission, fastRoutes: seams.fastRoutes !== false });
  // Every request started and not yet ended; shutdown waits for these.
  let active = 0;
  const served = createRequestListener(logger, routes, last, (line, log) => {
    active--;
    admission.release(log);
    observeRequest(app.metrics, rpc.paths, line);
  });
  const listener: NodeHandler = (req, res) => {
    active++;
    served(req, res);
  };
  // Requests node:http refuses before any route sees them get the error body too.
  const clientErrors = answerClientErrors(logger, (code) => observeParserRefusal(app.metrics, code));
  const transport = createTransport(config, listener, clientErrors);
  return {
    core: app.core,
    store: app.store,
    tokens: app.tokens,
    metrics: app.metrics,
    listen: async () => {
      await app.store.ready();
      return transport.listen();
    },
    async close(graceMs = config.shutdown.graceSeconds * 1000) {
      // Readiness and Health turn NOT_SERVING; new requests get SHUTTING_DOWN.
      app.state.startDraining();
      await drain({ ...transport, activeRequests: () => active }, graceMs);
      // After the last answer, so the last write is in.
      await app.store.close();
    },
  };
}
