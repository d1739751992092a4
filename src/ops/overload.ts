/**
 * Admission and deadlines. A cap on requests in flight: past it, or while the
 * server drains, a new request is refused at once (OVERLOADED or
 * SHUTTING_DOWN, 503 with Retry-After) instead of queueing into timeouts.
 * A server-side deadline (limits.requestTimeoutMs) bounds every request whose
 * caller set none shorter.
 *
 * JSON and plain HTTP requests are refused here with the documented body. RPCs
 * are marked and refused by an interceptor, so connect writes the refusal in
 * the caller's protocol (Connect JSON, gRPC trailers, gRPC-Web frame) with the
 * usual ErrorDetail.
 */
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "../http/answer.js";
import { toConnectError } from "../http/connect-errors.js";
import { armDeadline, clearDeadline, deadlineError, onDeadline } from "../http/deadline.js";
import type { NodeServerRequest, NodeServerResponse } from "../http/node-types.js";
import { kRequestLog, type RequestLog, requestLogOf } from "../http/request-log.js";
import type { Route } from "../http/route.js";
import { shuttingDown } from "./health.js";

/** Seconds a refused caller is told to wait. */
const RETRY_AFTER_SECONDS = "1";

/** Options of the admission route. */
export interface AdmissionOptions {
  readonly maxInFlight: number;
  readonly isDraining: () => boolean;
  /** Paths never refused nor counted: probes and metrics must answer under load. */
  readonly isExempt: (path: string) => boolean;
  /** Paths served by the RPC handler, refused through the interceptor. */
  readonly isRpc: (path: string) => boolean;
  /** The request deadline; a refusal that cannot be delivered is given up after it. */
  readonly deadlineMs: number;
}

/** The admission gate. */
export interface Admission {
  /**
   * The first route of the listener; passes admitted requests on and marks
   * them (`log.admitted`).
   */
  readonly route: Route;
  /** Frees an admitted request's place; the listener's onEnd calls it. */
  release(log: RequestLog): void;
  /** Requests admitted and not yet answered. */
  readonly inFlight: number;
}

/** The refusal decided for a request, if any; the route that serves it answers this. */
export function refusalOf(req: NodeServerRequest): AppError | undefined {
  return requestLogOf(req)?.refusal;
}

/** Creates the admission gate. */
export function createAdmission(options: AdmissionOptions): Admission {
  let inFlight = 0;
  const route: Route = (req, res, path, log) => {
    if (options.isExempt(path)) return false;
    let refusal: AppError | undefined;
    if (options.isDraining()) refusal = shuttingDown();
    else if (inFlight >= options.maxInFlight) {
      refusal = new AppError("OVERLOADED", "The server is at its limit of requests in flight; retry shortly.", {
        logDetail: `maxInFlight ${options.maxInFlight} reached`,
      });
    }
    if (refusal === undefined) {
      inFlight++;
      log.admitted = true;
      return false;
    }
    res.setHeader("retry-after", RETRY_AFTER_SECONDS);
    // While draining, an HTTP/1.1 connection should not carry more requests.
    if (refusal.code === "SHUTTING_DOWN" && req.httpVersionMajor === 1) res.setHeader("connection", "close");
    if (options.isRpc(path)) {
      // Answered in the caller's protocol by the lean routes or the interceptor.
      log.refusal = refusal;
      return false;
    }
    // The body is not wanted; let it drain rather than be parsed as a request.
    req.resume();
    armDeadline(req, res, log, { ms: options.deadlineMs }, () => undefined);
    sendError(req, res, refusal);
    return true;
  };
  return {
    route,
    release(log) {
      if (!log.admitted) return;
      log.admitted = false;
      inFlight--;
    },
    get inFlight() {
      return inFlight;
    },
  };
}

/**
 * Refuses RPCs marked by admission, and bounds unary RPCs by the request's
 * deadline (deadline.ts, armed when the request was routed) or the caller's
 * (grpc-timeout, connect-timeout-ms, which connect turns into an abort),
 * whichever comes first. Streams (Health.Watch, reflection) are not bounded.
 */
export function admissionInterceptor(): Interceptor {
  return (next) => async (req) => {
    const log = req.contextValues.get(kRequestLog);
    const refusal = log?.refusal;
    if (refusal) {
      if (log) log.error = refusal;
      throw toConnectError(refusal);
    }
    if (req.stream) {
      clearDeadline(log);
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

/**
 * A router that adds interceptors to every service registered through it, so
 * route modules stay unaware of admission and deadlines.
 */
export function routerWithInterceptors(router: ConnectRouter, interceptors: Interceptor[]): ConnectRouter {
  const wrapped: ConnectRouter = {
    get handlers() {
      return router.handlers;
    },
    service(service, implementation, options) {
      router.service(service, implementation, {
        ...options,
        interceptors: [...interceptors, ...(options?.interceptors ?? [])],
      });
      return wrapped;
    },
    rpc(method, impl, options) {
      router.rpc(method, impl, { ...options, interceptors: [...interceptors, ...(options?.interceptors ?? [])] });
      return wrapped;
    },
  };
  return wrapped;
}

/**
 * Bounds a plain-HTTP route by the server deadline: when it has not answered
 * within `ms`, the caller gets REQUEST_TIMEOUT (408) if its body is still
 * arriving, else DEADLINE_EXCEEDED (504). Work already started may still
 * complete; its late answer is dropped.
 */
export function withDeadline(route: Route, ms: number): Route {
  return (req: NodeServerRequest, res: NodeServerResponse, path: string, log: RequestLog) => {
    if (!route(req, res, path, log)) return false;
    armDeadline(req, res, log, { ms, bodyTimeout: true }, (error) =>
      sendError(req, res, error, req.httpVersionMajor === 1 ? { connection: "close" } : undefined),
    );
    return true;
  };
}
