/**
 * How every RPC implementation of ours runs its work: whatever it throws
 * becomes a ConnectError with ErrorDetail (connect-errors.ts), noted in the
 * request's record for the log line and metrics.
 */
import type { HandlerContext } from "@connectrpc/connect";
import { anyToConnectError } from "./connect-errors.js";
import { kRequestState, type RequestState } from "./request-state.js";

/** Runs `work` with the request's record; its failure is thrown as a ConnectError. */
export async function runRpc<T>(ctx: HandlerContext, work: (log: RequestState | undefined) => Promise<T>): Promise<T> {
  const log = ctx.values.get(kRequestState);
  try {
    return await work(log);
  } catch (e) {
    const { connectError, appError } = anyToConnectError(e);
    if (log) log.error = appError;
    throw connectError;
  }
}
