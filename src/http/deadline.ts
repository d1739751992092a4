/**
 * The one deadline of a request. Whichever route serves a request arms it
 * once (armDeadline); at expiry the route's answer runs with the error due,
 * and a request that still has not ended a moment later (its answer cannot be
 * flushed, or its body keeps arriving) is cut: HTTP/2 stream reset, HTTP/1.1
 * socket destroyed. So its `close` fires and admission gets its place back,
 * whatever the caller does. The timer lives on the request's record and the
 * request listener clears it when the request ends.
 */
import * as http2 from "node:http2";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import { toConnectError } from "./connect-errors.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import type { RequestState } from "./request-state.js";
import type { Route } from "./route.js";

/** How long an answer written at expiry may take to reach the caller before the request is cut. */
const FLUSH_GRACE_MS = 1000;
/** How long, and how many bytes, an HTTP/1.1 body no longer wanted is read and discarded before its connection is cut. */
const LINGER_MS = 1000;
const LINGER_BYTES = 256 * 1024;

/** How one route's deadline behaves. */
export interface DeadlineOptions {
  readonly ms: number;
  /** The caller's own deadline (grpc-timeout, connect-timeout-ms), shorter than the server's. */
  readonly callerDeadline?: boolean;
  /** A body still arriving at expiry answers REQUEST_TIMEOUT (408), as the JSON paths document. */
  readonly bodyTimeout?: boolean;
  /** The deadline may be given a new length later (extendDeadline). */
  readonly restartable?: boolean;
}

/** DEADLINE_EXCEEDED for a request that outlived `ms`. */
export function deadlineError(ms: number, callerDeadline = false): AppError {
  return new AppError(
    "DEADLINE_EXCEEDED",
    callerDeadline
      ? "The request did not finish within the caller's deadline."
      : `The request did not finish within ${ms} ms.`,
  );
}

/** True while the caller is still sending the request body. */
function bodyStillArriving(req: NodeServerRequest): boolean {
  if ("stream" in req) {
    const stream = req.stream;
    if (stream.closed || stream.destroyed) return false;
    return !stream.state.remoteClose;
  }
  return !req.complete;
}

/**
 * Arms the request's deadline (the first call wins). At expiry `answer` gets
 * the error due (the admission refusal, REQUEST_TIMEOUT or DEADLINE_EXCEEDED)
 * unless something was answered already; a route that takes over the request
 * later (the RPC interceptor) replaces it with onDeadline.
 */
export function armDeadline(
  req: NodeServerRequest,
  res: NodeServerResponse,
  log: RequestState,
  options: DeadlineOptions,
  answer: (error: AppError) => void,
): void {
  if (log.deadline !== undefined) return;
  log.onDeadline = answer;
  startDeadline(req, res, log, options, options.ms);
  // Only where asked (a stream with a bound of its own, WatchSession), so
  // no other request allocates a closure for it.
  if (options.restartable) {
    log.restartDeadline = (ms) => {
      // Only a deadline still running: one lifted, or past, stays so.
      if (log.deadline === undefined || log.expired) return;
      clearTimeout(log.deadline);
      startDeadline(req, res, log, options, ms);
    };
  }
}

function startDeadline(
  req: NodeServerRequest,
  res: NodeServerResponse,
  log: RequestState,
  options: DeadlineOptions,
  ms: number,
): void {
  log.deadline = setTimeout(() => {
    const arriving = bodyStillArriving(req);
    const error =
      log.refusal ??
      (arriving && options.bodyTimeout
        ? new AppError("REQUEST_TIMEOUT", `The request body did not arrive within ${ms} ms.`)
        : deadlineError(ms, options.callerDeadline));
    log.expired = error;
    if (!res.headersSent) {
      // The rest of the body is not wanted; on HTTP/1.1 it would be read as the next request.
      if (arriving && req.httpVersionMajor === 1) res.setHeader("connection", "close");
      log.error = error;
      log.onDeadline?.(error);
    }
    // The full grace whatever the deadline: a caller's 1 ms deadline still gets its answer.
    log.deadline = setTimeout(() => cut(req, res), FLUSH_GRACE_MS);
  }, ms);
}

/** Gives the running deadline a new length from now (a server stream that has started streaming). */
export function extendDeadline(log: RequestState | undefined, ms: number): void {
  log?.restartDeadline?.(ms);
}

/** Replaces what answers the request at expiry; runs it at once when the deadline has passed already. */
export function onDeadline(log: RequestState | undefined, answer: (error: AppError) => void): void {
  if (!log) return;
  log.onDeadline = answer;
  if (log.expired) answer(log.expired);
}

/** Lifts the deadline (a stream that may rightly stay open, such as Health.Watch). */
export function clearDeadline(log: RequestState | undefined): void {
  if (!log || log.deadline === undefined) return;
  clearTimeout(log.deadline);
  log.deadline = undefined;
  log.onDeadline = undefined;
}

/** Ends a request that outlived its deadline and its grace, so its `close` fires. */
function cut(req: NodeServerRequest, res: NodeServerResponse): void {
  if ("stream" in res) {
    const stream = res.stream;
    if (!stream.closed && !stream.destroyed) stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  if (!res.writableFinished || !req.complete) req.socket?.destroy();
}

/**
 * Called when an answer has been written in full: a body the caller is still
 * sending is not wanted. HTTP/2: the rest is discarded and the stream reset
 * with NO_ERROR (RFC 9113 8.1), which tells the caller to stop and lets the
 * stream close (node closes a stream only once its body was read to the
 * end). HTTP/1.1: drained within a bound, or cut (below).
 */
export function endUnwantedBody(req: NodeServerRequest, res: NodeServerResponse): void {
  if ("stream" in res) {
    if (req.readableEnded) return;
    req.resume();
    const stream = res.stream;
    const reset = () =>
      setImmediate(() => {
        if (bodyStillArriving(req)) stream.close(http2.constants.NGHTTP2_NO_ERROR);
      });
    // An answer ended through the compatibility response has trailers still
    // to go (node sends them from a setImmediate once the last DATA is out);
    // the reset must follow them, or a gRPC caller loses its status.
    if (res.writableEnded && stream.sentTrailers === undefined) stream.once("wantTrailers", reset);
    else reset();
    return;
  }
  // The socket is gone (null) once node has let go of the connection.
  const socket = req.socket;
  if (!socket || !bodyStillArriving(req)) return;
  req.resume();
  // The rest is read and discarded, within a bound, and the connection
  // stays open for the next request: closing at once would answer the bytes
  // still in flight with a TCP reset, which makes the caller's kernel drop
  // our unread answer, and a keep-alive caller would send its next request
  // into a closed connection. A body past the bound is cut with its socket.
  let discarded = 0;
  const done = () => {
    clearTimeout(timer);
    req.off("data", count);
  };
  const cutBody = () => {
    done();
    socket.destroy();
  };
  const count = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > LINGER_BYTES) cutBody();
  };
  const timer = setTimeout(cutBody, LINGER_MS);
  req.on("data", count);
  req.once("end", done);
}

/**
 * A request body whose reading fails with the deadline's error (as a
 * ConnectError, so connect answers it in the caller's protocol) when the
 * deadline passes while the body is still being read.
 */
export function bodyFailingAtDeadline(
  log: RequestState | undefined,
  body: AsyncIterable<Uint8Array>,
): AsyncIterable<Uint8Array> {
  if (!log) return body;
  return {
    [Symbol.asyncIterator]() {
      const it = body[Symbol.asyncIterator]();
      let expire: (reason: unknown) => void = () => undefined;
      const expired = new Promise<never>((_, reject) => {
        expire = reject;
      });
      expired.catch(() => undefined);
      onDeadline(log, (error) => expire(toConnectError(error)));
      return {
        next: () => Promise.race([it.next(), expired]),
        return: (value?: unknown) => it.return?.(value) ?? Promise.resolve({ done: true as const, value: undefined }),
      };
    },
  };
}

/**
 * Bounds a plain-HTTP route by the server deadline: when it has not answered
 * within `ms`, the caller gets REQUEST_TIMEOUT (408) if its body is still
 * arriving, else DEADLINE_EXCEEDED (504). Work already started may still
 * complete; its late answer is dropped.
 */
export function withDeadline(route: Route, ms: number): Route {
  return (req, res, path, log) => {
    if (!route(req, res, path, log)) return false;
    armDeadline(req, res, log, { ms, bodyTimeout: true }, (error) =>
      sendError(req, res, error, req.httpVersionMajor === 1 ? { connection: "close" } : undefined),
    );
    return true;
  };
}
