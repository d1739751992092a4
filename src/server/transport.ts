/**
 * The sockets side: one HTTP/1.1 and one HTTP/2 server behind the one port,
 * plain text (the protocol sniffer) or TLS (by ALPN), so both protocols get
 * the same limits either way. Tracks connections and sessions for shutdown.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo, Server as NetServer, Socket } from "node:net";
import type { Config } from "../config/load-config.js";
import type { answerClientErrors } from "../http/client-errors.js";
import { limitSession } from "../http/http2-session-limits.js";
import type { NodeHandler } from "../http/node-types.js";
import { createSniffingServer, createTlsServer } from "../http/protocol-sniffer.js";
import { routeParserRefusals } from "../http/request-guards.js";
import type { DrainTargets } from "../ops/shutdown.js";

/** The servers and the connections open on them. */
export interface Transport extends Omit<DrainTargets, "activeRequests"> {
  readonly http1: http.Server;
  /** Listens on the configured host and port (0: any free port). */
  listen(): Promise<{ host: string; port: number; url: string }>;
}

/** Builds the servers around `listener`; `clientErrors` answers what node:http refuses before routing. */
export function createTransport(
  config: Pick<Config, "server" | "limits">,
  listener: NodeHandler,
  clientErrors: ReturnType<typeof answerClientErrors>,
): Transport {
  const limits = config.limits;
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.Http2Session>();
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
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (handed) limitSession(session, handed, limits);
    handed = undefined;
  });
  const targets = { http1, http2: h2, firstByteTimeoutMs: limits.headersTimeoutMs };
  const tls = config.server.tls;
  const front: NetServer = tls ? createTlsServer(targets, tls) : createSniffingServer(targets);
  front.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  const listen = () =>
    new Promise<{ host: string; port: number; url: string }>((resolve, reject) => {
      front.once("error", reject);
      front.listen(config.server.port, config.server.host, () => {
        front.off("error", reject);
        const { port } = front.address() as AddressInfo;
        const host = config.server.host;
        const shown = host.includes(":") ? `[${host}]` : host;
        resolve({ host, port, url: `${tls ? "https" : "http"}://${shown}:${port}` });
      });
    });
  return { front, http1, sessions, sockets, listen };
}
