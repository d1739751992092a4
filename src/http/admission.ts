/**
 * Admission: a cap on requests in flight. Past it, or while the server
 * drains, a new request is refused at once (OVERLOADED or SHUTTING_DOWN, 503
 * with Retry-After) instead of queueing into timeouts.
 *
 * JSON and plain HTTP requests are refused here with the documented body. RPCs
 * are marked (`log.refusal`) and refused by the lean routes or the RPC
 * interceptor (rpc-interceptor.ts), so the refusal is written in the caller's
 * protocol (Connect JSON, gRPC trailers, gRPC-Web frame) with the usual
 * ErrorDetail.
 */
import { AppError } from "../core/error-catalogue.js";
import { shuttingDown } from "../ops/health.js";
import { sendError } from "./answer.js";
import { armDeadline } from "./deadline.js";
import type { NodeServerRequest } from "./node-types.js";
import { type RequestState, requestStateOf } from "./request-state.js";
import type { Route } from "./route.js";

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
  release(log: RequestState): void;
  /** Requests admitted and not yet answered. */
  readonly inFlight: number;
}

/** The refusal decided for a request, if any; the route that serves it answers this. */
export function refusalOf(req: NodeServerRequest): AppError | undefined {
  return requestStateOf(req)?.refusal;
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
