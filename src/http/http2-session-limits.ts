/**
 * Time limits of an HTTP/2 connection, which node:http2 does not have: a
 * connection that never completes a request's headers (only the preface, or
 * half a header block) is cut; one with no request open for the idle time
 * gets GOAWAY; and one still open a bound after GOAWAY (its caller never
 * finishes its streams or never closes its socket) is cut. HTTP/1.1 has the
 * like from node:http (headersTimeout, keepAliveTimeout).
 */
import type * as http2 from "node:http2";
import type { Socket } from "node:net";

/** The limits, from config.limits. */
export interface Http2SessionLimits {
  readonly http2IdleTimeoutMs: number;
  readonly http2HeadersTimeoutMs: number;
  readonly http2GoawayTimeoutMs: number;
}

/**
 * Applies the limits to a new server session. `socket` is the connection
 * under it: node only ends a gracefully closed session's socket and waits
 * for the peer, so the bound after GOAWAY destroys the socket itself.
 */
export function limitSession(session: http2.ServerHttp2Session, socket: Socket, limits: Http2SessionLimits): void {
  let open = 0;
  let closing = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (ms: number, fn: () => void) => {
    clearTimeout(timer);
    // A stream's close can come after its session's: no timer for a session that is gone.
    if (session.destroyed) return;
    timer = setTimeout(fn, ms);
    // The listening server keeps the process alive, not a connection's timer.
    timer.unref();
  };
  const cut = () => {
    session.destroy();
    socket.destroy();
  };
  const goaway = () => {
    if (closing) return;
    closing = true;
    if (!session.closed && !session.destroyed) session.close();
    arm(limits.http2GoawayTimeoutMs, cut);
  };
  // Until a first request's headers are complete.
  arm(limits.http2HeadersTimeoutMs, cut);
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open++;
    if (!closing) clearTimeout(timer);
    stream.once("close", () => {
      open--;
      if (open === 0 && !closing) arm(limits.http2IdleTimeoutMs, goaway);
    });
  });
  // The caller's GOAWAY: it opens nothing more, so the connection ends within the bound.
  session.once("goaway", goaway);
  session.once("close", () => clearTimeout(timer));
}
