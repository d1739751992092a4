/**
 * The documented JSON paths the mobile app calls. A lean path on purpose: it
 * reads the body, parses JSON once and calls the core directly, because this
 * is the main load and a framework's per-request plumbing costs more than the
 * work itself.
 */
import { AppError, toAppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import type { InitiateService } from "../core/initiate-service.js";
import { ACCEPTED_ENCODINGS, bodyDecoder } from "./content-encoding.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import type { Route } from "./request-listener.js";
import { noteSuccess, requestIdOf, requestLogOf } from "./request-log.js";

/** The documented paths and the operation each starts. */
export const JSON_PATHS: ReadonlyMap<string, Operation> = new Map([
  ["/sale/initiate-sale", "sale"],
  ["/verification/initiate-verification", "verification"],
]);

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

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
  const log = requestLogOf(req);
  if (log) log.error = error;
  sendJson(res, error.spec.httpStatus, bodyExtra ? { ...error.toBody(), ...bodyExtra } : error.toBody(), extra);
}

/**
 * Reads the whole body up to `limit` bytes. Rejects with BODY_TOO_LARGE as
 * soon as the limit is passed (or announced by Content-Length), without
 * buffering the rest.
 */
/**
 * The caller went away before its request body was complete. Nobody is left
 * to answer, so routes drop the request; its log line says "aborted".
 */
export class ClientGoneError extends Error {
  constructor() {
    super("the client went away before sending the whole request");
    this.name = "ClientGoneError";
  }
}

export function readBody(req: NodeServerRequest, limit: number): Promise<Buffer> {
  const announced = Number(req.headers["content-length"]);
  if (announced > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once("aborted", () => reject(new ClientGoneError()));
    req.once("error", (e) => reject(req.aborted ? new ClientGoneError() : e));
  });
}

function tooLarge(limit: number): AppError {
  return new AppError("BODY_TOO_LARGE", `The request body must be at most ${limit} bytes.`);
}

/**
 * Parses a request body as UTF-8 JSON, answering BODY_EMPTY or BODY_NOT_JSON;
 * the RPC adapter uses it too, so Connect-JSON and gRPC-JSON bodies fail alike.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new AppError("BODY_EMPTY", "The request body is empty; a JSON object is required.");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AppError("BODY_NOT_JSON", "The request body is not valid UTF-8.");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // JSON.parse's message says where the syntax breaks, never more.
    throw new AppError("BODY_NOT_JSON", `The request body is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Reads a JSON POST the way every JSON path does: POST only, Content-Type
 * application/json, Content-Encoding gzip, br or none (content-encoding.ts),
 * at most `maxBodyBytes` as sent and once decoded, valid UTF-8 JSON. Throws AppError;
 * answer it with sendJsonPathError.
 */
export function readJsonPost(req: NodeServerRequest, maxBodyBytes: number): Promise<unknown> {
  if (req.method !== "POST") {
    return Promise.reject(new AppError("METHOD_NOT_ALLOWED", `Use POST for this path (got ${req.method}).`));
  }
  if (!JSON_TYPE.test(req.headers["content-type"] ?? "")) {
    return Promise.reject(
      new AppError("CONTENT_TYPE_UNSUPPORTED", "The request must have Content-Type: application/json."),
    );
  }
  let decode: ReturnType<typeof bodyDecoder>;
  try {
    decode = bodyDecoder(req.headers["content-encoding"], maxBodyBytes);
  } catch (e) {
    return Promise.reject(e);
  }
  const body = readBody(req, maxBodyBytes);
  return (decode ? body.then(decode) : body).then(parseJsonBody);
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

/**
 * Returns a handler for the documented JSON paths, or undefined for any other
 * path so the caller can try its next route.
 */
export function jsonRoutes(core: InitiateService, options: { readonly maxBodyBytes: number }): Route {
  return (req, res, path, log) => {
    const operation = JSON_PATHS.get(path);
    if (operation === undefined) return false;
    log.operation = operation;
    // A plain chain, no async function: one microtask turn per step.
    readJsonPost(req, options.maxBodyBytes)
      .then((body) => core.initiate(operation, body))
      .then(
        (result) => {
          noteSuccess(log, result);
          sendJson(res, 200, result);
        },
        (e: unknown) => sendJsonPathError(req, res, e),
      );
    return true;
  };
}
