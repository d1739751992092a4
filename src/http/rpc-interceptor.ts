/**
 * The one interceptor of every RPC service (passed router-wide to connect):
 * answers admission's refusal in the caller's protocol, and ends a unary RPC
 * at its deadline.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { toConnectError } from "./connect-errors.js";
import { clearDeadline, deadlineError, onDeadline } from "./deadline.js";
import { kRequestState } from "./request-state.js";

/**
 * Refuses RPCs marked by admission, and bounds unary RPCs by the request's
 * deadline (deadline.ts, armed when the request was routed) or the caller's
 * (grpc-timeout, connect-timeout-ms, which connect turns into an abort),
 * whichever comes first. Streams (Health.Watch, reflection) are not bounded,
 * except by a deadline their route armed for them (`streamDeadline`).
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
      if (!log?.streamDeadline) clearDeadline(log);
      return next(req);
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
