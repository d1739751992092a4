/**
 * The common case of the Connect protocol: InitiateService's two unary methods
 * as a JSON POST with no compression (what connect-node's Connect transport
 * sends by default), served on the lean skeleton (lean-unary.ts) instead of
 * connect-node. Anything else (binary, compression, GET, an unknown protocol
 * version, a malformed connect-timeout-ms) falls through to connect. The error
 * body and its HTTP status come from connect's own helpers.
 */
import { codeToHttpStatus, errorToJsonBytes, parseTimeout } from "@connectrpc/connect/protocol-connect";
import type { Initiator } from "../core/initiator.js";
import { toConnectError } from "./connect-errors.js";
import { decodeInitiateJson } from "./initiate-json.js";
import { type LeanCodec, leanUnaryRoute } from "./lean-unary.js";
import { parseJsonBody } from "./read-body.js";
import { requestIdOf } from "./request-state.js";
import type { Route } from "./route.js";

// connect-es's unary JSON content type (see its protocol-connect/content-type.js).
const UNARY_JSON = /^application\/json(?:; ?charset=utf-?8)?$/i;

function send(res: Parameters<LeanCodec["answer"]>[0], status: number, body: Uint8Array | string, close: boolean) {
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": typeof body === "string" ? Buffer.byteLength(body) : body.byteLength,
    "x-request-id": requestIdOf(res),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(body);
}

const connectCodec: LeanCodec = {
  takes(req) {
    if (!UNARY_JSON.test(req.headers["content-type"] ?? "")) return false;
    const encoding = req.headers["content-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const version = req.headers["connect-protocol-version"];
    return version === undefined || version === "1";
  },
  callerTimeout(req) {
    const header = req.headers["connect-timeout-ms"];
    return parseTimeout(typeof header === "string" ? header : null, Number.MAX_SAFE_INTEGER);
  },
  decode: (body, method) => decodeInitiateJson(method.operation, method.input, parseJsonBody(body)),
  // The result has exactly the response message's proto3 JSON shape.
  answer: (res, _method, result) => send(res, 200, JSON.stringify(result), false),
  answerError(req, res, error) {
    const connectError = toConnectError(error);
    // An unread body on HTTP/1.1 would be parsed as the next request.
    const close = error.code === "BODY_TOO_LARGE" && req.httpVersionMajor === 1;
    send(res, codeToHttpStatus(connectError.code), errorToJsonBytes(connectError, {}), close);
  },
};

/** The route: serves the common case and returns true, or returns false for connect. */
export function connectUnaryRoute(
  core: Initiator,
  options: { readonly maxBodyBytes: number; readonly requestTimeoutMs: number },
): Route {
  return leanUnaryRoute(core, connectCodec, options);
}
