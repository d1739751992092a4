/**
 * The server factory: builds the store, the core and every protocol adapter
 * from a Config, and listens only when asked to. `src/main.ts` runs it; tests
 * create it on an ephemeral port.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import { createContextValues } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import type { Config } from "./config/load-config.js";
import { createEndpointDirectory } from "./core/endpoints.js";
import { AppError } from "./core/error-catalogue.js";
import { createInitiateService, type InitiateService } from "./core/initiate-service.js";
import type { SessionStore } from "./core/session-store.js";
import { initiateRoutes } from "./http/initiate-routes.js";
import { jsonRoutes, sendError } from "./http/json-routes.js";
import type { NodeHandler } from "./http/node-types.js";
import { createSniffingServer } from "./http/protocol-sniffer.js";
import { createRequestListener, type Route } from "./http/request-listener.js";
import { kRequestLog, requestLogOf } from "./http/request-log.js";
import { openSqliteStore } from "./store/sqlite-store.js";

/** A built server, not yet listening. */
export interface AppServer {
  readonly core: InitiateService;
  readonly store: SessionStore;
  /** Starts listening on the configured host and port (0: any free port). */
  listen(): Promise<{ host: string; port: number; url: string }>;
  /**
   * Stops taking connections, lets requests in flight finish (at most
   * `graceMs`), closes idle HTTP/1.1 and HTTP/2 connections, then the store.
   */
  close(graceMs?: number): Promise<void>;
}

/** Builds the server from configuration. */
export function createServer(config: Config, logger: Logger): AppServer {
  const store = openSqliteStore({ path: config.store.sqlite, durability: config.store.durability });
  const core = createInitiateService({ endpoints: createEndpointDirectory(config.endpoints), store });

  const connectHandler = connectNodeAdapter({
    routes: initiateRoutes(core),
    readMaxBytes: config.limits.maxBodyBytes,
    contextValues: (req) => createContextValues().set(kRequestLog, requestLogOf(req)),
    fallback: (req, res) =>
      sendError(req, res, new AppError("ROUTE_NOT_FOUND", `No operation is served at ${req.method} ${req.url}.`)),
  });
  const routes: Route[] = [
    jsonRoutes(core, { maxBodyBytes: config.limits.maxBodyBytes }),
    (req, res) => {
      connectHandler(req, res);
      return true;
    },
  ];
  const listener: NodeHandler = createRequestListener(logger, routes);

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

  let front: NetServer;
  let http1: http.Server | undefined;
  const h2Options: http2.ServerOptions = { settings: { maxConcurrentStreams: 256 } };
  if (config.server.tls) {
    const secure = http2.createSecureServer(
      { ...h2Options, cert: config.server.tls.cert, key: config.server.tls.key, allowHTTP1: true },
      listener as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
    );
    secure.on("session", trackSession);
    secure.on("secureConnection", trackSocket);
    front = secure;
  } else {
    http1 = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000 }, listener);
    const h2c = http2.createServer(h2Options, listener);
    h2c.on("session", trackSession);
    front = createSniffingServer({ http1, http2: h2c, firstByteTimeoutMs: 10_000 });
    front.on("connection", trackSocket);
  }

  return {
    core,
    store,
    listen: () =>
      new Promise((resolve, reject) => {
        front.once("error", reject);
        front.listen(config.server.port, config.server.host, () => {
          front.off("error", reject);
          const { port } = front.address() as AddressInfo;
          const host = config.server.host;
          const shown = host.includes(":") ? `[${host}]` : host;
          resolve({ host, port, url: `${config.server.tls ? "https" : "http"}://${shown}:${port}` });
        });
      }),
    async close(graceMs = 10_000) {
      const closed = new Promise<void>((resolve) => front.close(() => resolve()));
      // GOAWAY: HTTP/2 clients finish their streams and open no new ones.
      for (const session of sessions) session.close();
      http1?.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (sockets.size > 0 && Date.now() < deadline) {
        http1?.closeIdleConnections();
        await new Promise((r) => setTimeout(r, 25));
      }
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
      await closed;
      await store.close();
    },
  };
}
