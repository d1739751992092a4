/**
 * The one request listener behind every protocol: gives each request an id
 * (echoed in `x-request-id` and in its log line), routes it, and writes one
 * log line when it ends.
 */
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import { endUnwantedBody } from "./deadline.js";
import type { NodeHandler, NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { attachRequestState, detectProtocol, type RequestState } from "./request-state.js";
import { pathOf, type Route } from "./route.js";

// A caller's own request id is kept when it is short and plain, so ids can be
// followed across services; anything else is replaced, never echoed.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The fields of a request's log line, also handed to the listener's `onEnd` (metrics, admission). */
export interface RequestLine {
  readonly requestId: string;
  readonly protocol: RequestState["protocol"];
  readonly path: string;
  readonly status: number;
  readonly operation: RequestState["operation"];
  readonly outcome: "ok" | "error" | "aborted";
  readonly cause: string | undefined;
  readonly code: string | undefined;
  readonly durationMs: number;
}

function writeLogLine(
  logger: Logger,
  req: NodeServerRequest,
  res: NodeServerResponse,
  log: RequestState,
  onEnd: ((line: RequestLine, log: RequestState) => void) | undefined,
): void {
  if (log.deadline) clearTimeout(log.deadline);
  const ms = Number(process.hrtime.bigint() - log.startedAt) / 1e6;
  // An answer that did not reach the caller (it went away or cancelled its
  // stream) is "aborted". Over HTTP/2 node's compatibility layer ends a
  // cancelled body like a complete one and the cancel shows only now, as the
  // stream's reset code; a parse error of that cut body is not the caller's
  // error, but a failure of the server still is.
  const reset = "stream" in res ? res.stream.rstCode : undefined;
  const delivered = res.writableFinished && !reset;
  const e = delivered || log.error?.spec.cause === "SERVER_FAILED" ? log.error : undefined;
  const line = {
    requestId: log.requestId,
    protocol: log.protocol,
    method: req.method,
    path: pathOf(req.url),
    // No status when nothing was answered (the caller went away first).
    status: delivered ? res.statusCode : undefined,
    operation: log.operation,
    outcome: !delivered ? "aborted" : e ? "error" : "ok",
    cause: e?.spec.cause,
    code: e?.code,
    reason: e?.logDetail,
    endpointId: log.endpointId,
    invoiceId: log.invoiceId,
    callback: log.callback,
    serialNumber: log.serialNumber,
    clientCardId: log.clientCardId,
    durationMs: Math.round(ms * 1000) / 1000,
  };
  if (e && e.spec.cause === "SERVER_FAILED") logger.error(line, "request failed");
  else if (log.warning && !e) logger.warn(line, log.warning);
  else logger.info(line, "request");
  onEnd?.(line as RequestLine, log);
}

/** The last route: serves whatever no route before it took. */
export type LastRoute = (req: NodeServerRequest, res: NodeServerResponse, path: string, log: RequestState) => void;

/**
 * Builds the listener from routes tried in order, then `last`.
 * `onEnd` runs once per request when it ends (answered or abandoned); it is
 * the one place per-request resources are released, so a request costs one
 * "close" listener (and one "finish" listener for a body still arriving
 * after the answer), not one per stage.
 */
export function createRequestListener(
  logger: Logger,
  routes: readonly Route[],
  last: LastRoute,
  onEnd?: (line: RequestLine, log: RequestState) => void,
): NodeHandler {
  return (req, res) => {
    const given = req.headers["x-request-id"];
    const requestId = typeof given === "string" && SAFE_REQUEST_ID.test(given) ? given : randomUUID();
    const path = pathOf(req.url);
    const log: RequestState = {
      requestId,
      protocol: detectProtocol(path, req.headers["content-type"]),
      startedAt: process.hrtime.bigint(),
    };
    attachRequestState(req, log);
    // Routes put x-request-id in the headers they answer with (requestIdOf).
    res.once("close", () => writeLogLine(logger, req, res, log, onEnd));
    // An answer written while the body still arrives (a refusal, a body too
    // large, a deadline) must not leave the request open: its close releases
    // what it holds.
    // (node:http2's compatibility response says "finish" only on close; its stream says it when written.)
    ("stream" in res ? res.stream : res).once("finish", () => endUnwantedBody(req, res));
    try {
      for (const route of routes) if (route(req, res, path, log)) return;
      last(req, res, path, log);
    } catch (e) {
      // Routes answer their own errors; this is the last guard against a crash.
      logger.error({ requestId, err: e }, "route threw");
      sendError(req, res, new AppError("INTERNAL_ERROR", "The server failed to process the request."));
    }
  };
}
