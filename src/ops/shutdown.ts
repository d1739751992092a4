/**
 * Graceful shutdown: the connection side of `AppServer.close()` and the
 * SIGTERM/SIGINT handling of `main`. Order: readiness turns false (the caller
 * starts draining), the listener stops taking connections, HTTP/2 sessions get
 * GOAWAY, requests in flight finish within the grace, idle connections close,
 * whatever is left is cut, and only then is the store closed.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Server as NetServer, Socket } from "node:net";
import type { Logger } from "pino";

/** What drain() works on; the sets are kept current by the server. */
export interface DrainTargets {
  readonly front: NetServer;
  readonly http1: http.Server | undefined;
  readonly sessions: ReadonlySet<http2.Http2Session>;
  readonly sockets: ReadonlySet<Socket>;
  /** Requests started and not yet answered (every path, admitted or not). */
  readonly activeRequests: () => number;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Stops taking connections and waits (at most `graceMs`) for the requests in
 * flight to be answered, then closes every connection. Resolves when the
 * listener is closed.
 */
export async function drain(t: DrainTargets, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => t.front.close(() => resolve()));
  const deadline = Date.now() + graceMs;
  // GOAWAY: clients finish their streams and open no new ones. On Node 20
  // front.close() alone leaves idle HTTP/2 sessions open indefinitely.
  for (const session of t.sessions) session.close();
  t.http1?.closeIdleConnections();
  while (t.activeRequests() > 0 && Date.now() < deadline) {
    // Sessions opened since (a connection accepted just before close) get it too.
    for (const session of t.sessions) if (!session.closed) session.close();
    t.http1?.closeIdleConnections();
    await tick(10);
  }
  // Every answer is written: HTTP/2 sessions close themselves once their last
  // stream ends, idle HTTP/1.1 sockets are closed; a socket that never sent a
  // byte is given a moment, then cut with whatever else is left.
  t.http1?.closeIdleConnections();
  const flushBy = Math.min(deadline, Date.now() + 1000);
  while ((t.sockets.size > 0 || t.sessions.size > 0) && Date.now() < flushBy) {
    t.http1?.closeIdleConnections();
    await tick(10);
  }
  for (const session of t.sessions) session.destroy();
  for (const socket of t.sockets) socket.destroy();
  // Stops node:http's connection checks; it never listened, so the error is expected.
  t.http1?.close(() => undefined);
  await closed;
}

/**
 * Runs `close` once on the first SIGTERM or SIGINT and exits 0 when it is
 * done, 1 when it fails or overruns the grace by more than 5 s.
 */
export function exitGracefullyOnSignals(
  logger: Logger,
  graceMs: number,
  close: (graceMs: number) => Promise<void>,
): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs }, "shutting down");
    setTimeout(() => {
      logger.error({ graceMs }, "shutdown overran its grace; exiting");
      process.exit(1);
    }, graceMs + 5000).unref();
    close(graceMs).then(
      () => {
        logger.info("stopped");
        process.exit(0);
      },
      (e: unknown) => {
        logger.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
