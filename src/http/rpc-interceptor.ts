/**
 * The one interceptor of every RPC service (passed router-wide to connect):
 * answers admission's refusal in the caller's protocol, and ends a unary RPC
 * at its deadline.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { toConnectError } from "./connect-errors.js";
import { clearDeadline, deadlineError, extendDeadline, onDeadline } from "./deadline.js";
import type { RequestState } from "./request-state.js";
import { kRequestState } from "./request-state.js";

/** The stream's messages; at the first, the request deadline gives way to the stream's bound, if any. */
async function* streamingFrom<T>(messages: AsyncIterable<T>, log: RequestState | undefined): AsyncIterable<T> {
  let first = true;
  for await (const message of messages) {
    if (first) {
      first = false;
      if (log?.streamBoundMs === undefined) clearDeadline(log);
      else extendDeadline(log, log.streamBoundMs);
    }
    yield message;
  }
}

/**
 * Refuses RPCs marked by admission, and bounds unary RPCs by the request's
 * deadline (deadline.ts, armed when the request was routed) or the caller's
 * (grpc-timeout, connect-timeout-ms, which connect turns into an abort),
 * whichever comes first. A server stream (Health.Watch, WatchSession) keeps
 * the request deadline until its first message, which comes only once its
 * request message was read whole, so a body that never ends is cut like any
 * other; then the deadline is lifted, or replaced by the stream's own bound
 * (`streamBoundMs`). Bidirectional streams (reflection) have none.
 */
export function refusalAndDeadlineInterceptor(): Interceptor {
  return (next) => async (req) => {
    const log = req.contextValues.get(kRequestState);
    const refusal = log?.refusal;
    if (refusal) {
      if (log) log.error = refusal;
      throw toConnectError(refusal);
    }
    if (req.stream) {
      if (req.method.methodKind !== "server_streaming") {
        clearDeadline(log);
        return next(req);
      }
      const res = await next(req);
      return res.stream ? { ...res, message: streamingFrom(res.message, log) } : res;
    }
    let onAbort: (() => void) | undefined;
    const expired = new Promise<never>((_, reject) => {
      onDeadline(log, (error) => reject(toConnectError(error)));
      // connect aborts the signal when the caller's own deadline passes.
      onAbort = () => {
        const reason = ConnectError.from(req.signal.reason);
        if (reason.code !== Code.DeadlineExceeded) return reject(reason);
        const error = deadlineError(0, true);
        if (log) log.error = error;
        reject(toConnectError(error));
      };
      if (req.signal.aborted) onAbort();
      else req.signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([next(req), expired]);
    } finally {
      if (onAbort) req.signal.removeEventListener("abort", onAbort);
    }
  };
}
