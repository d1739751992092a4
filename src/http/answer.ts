/**
 * Writing answers on the plain-HTTP paths (JSON paths, ops endpoints, guards):
 * the documented error body with its catalogue status, and the headers every
 * answer of ours carries.
 */
import { type AppError, toAppError } from "../core/error-catalogue.js";
import { ACCEPTED_ENCODINGS } from "./content-encoding.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { ClientGoneError } from "./read-body.js";
import { requestIdOf, requestStateOf } from "./request-state.js";

/** Writes a JSON answer with the headers every answer of ours carries, x-request-id among them. */
export function sendJson(res: NodeServerResponse, status: number, body: unknown, extra?: Record<string, string>): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  // A plain literal on the success path (no spread): this runs for every answer.
  const headers: Record<string, string | number> = {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    "x-request-id": requestIdOf(res),
  };
  if (extra) Object.assign(headers, extra);
  res.writeHead(status, headers);
  res.end(text);
}

/**
 * Answers an AppError with the documented body and its catalogue status;
 * `bodyExtra` adds fields beside `error` (a check's failure carries its invoiceId).
 */
export function sendError(
  req: NodeServerRequest,
  res: NodeServerResponse,
  error: AppError,
  extra?: Record<string, string>,
  bodyExtra?: Record<string, unknown>,
): void {
  const log = requestStateOf(req);
  if (log) log.error = error;
  sendJson(res, error.spec.httpStatus, bodyExtra ? { ...error.toBody(), ...bodyExtra } : error.toBody(), extra);
}

/** Answers any failure of a JSON path with the documented body and the headers its error needs. */
export function sendJsonPathError(
  req: NodeServerRequest,
  res: NodeServerResponse,
  thrown: unknown,
  bodyExtra?: Record<string, unknown>,
): void {
  if (thrown instanceof ClientGoneError) return;
  const error = toAppError(thrown);
  const extra: Record<string, string> = {};
  if (error.code === "METHOD_NOT_ALLOWED") extra.allow = "POST";
  if (error.code === "ENCODING_UNSUPPORTED") extra["accept-encoding"] = ACCEPTED_ENCODINGS;
  if (error.code === "BODY_TOO_LARGE") {
    // Discard what is still coming; on HTTP/1.1 the rest would otherwise
    // be read as the next request, so that connection ends here.
    req.resume();
    if (req.httpVersionMajor === 1) extra.connection = "close";
  }
  sendError(req, res, error, extra, bodyExtra);
}
