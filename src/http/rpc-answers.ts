/**
 * Error answers for the RPC protocols written outside connect-node's own
 * handlers: by the fast routes, for refusals decided before connect runs
 * (unsupported content type or HTTP method, unknown method), and for connect's
 * gRPC errors rewritten as Trailers-Only. The protocol pieces (status
 * trailers with their ErrorDetail, the Connect error JSON) are connect's own
 * helpers; only the way the headers reach the wire is ours.
 */
import type { OutgoingHttpHeaders } from "node:http";
import type { ConnectError } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import type { AppError } from "../core/error-catalogue.js";
import { toConnectError } from "./connect-errors.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { requestIdOf, requestStateOf } from "./request-state.js";

/** The RPC protocol a caller speaks, told by its content type. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect";

/** The caller's RPC protocol: gRPC and gRPC-Web by their content-type prefix, anything else Connect. */
export function rpcProtocolOf(contentType: string | null | undefined): RpcProtocol {
  const type = (contentType ?? "").toLowerCase();
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  return "connect";
}

/**
 * Writes a gRPC or gRPC-Web answer that has no message: status 200 and every
 * header in ONE HEADERS frame with END_STREAM ("Trailers-Only"). Node's
 * compatibility API sends writeHead() + end() as HEADERS and then an empty
 * DATA frame, which standard gRPC clients read as a call without status
 * (grpc-js: INTERNAL "Call ended without gRPC status"), so HTTP/2 answers go
 * through the stream itself. Headers set earlier with setHeader (retry-after,
 * x-request-id) are kept.
 */
export function answerTrailersOnly(res: NodeServerResponse, headers: OutgoingHttpHeaders): void {
  if (res.headersSent || res.writableEnded) return;
  const all: OutgoingHttpHeaders = { ...res.getHeaders(), ...headers, "x-request-id": requestIdOf(res) };
  if ("stream" in res) {
    const { stream } = res;
    if (stream.destroyed || stream.closed) return;
    // A response stream takes no connection-specific headers (HTTP/2 forbids them).
    delete all.connection;
    stream.respond({ ...all, ":status": 200 }, { endStream: true });
    return;
  }
  res.writeHead(200, all);
  res.end();
}

/** The gRPC status headers (grpc-status, grpc-message, grpc-status-details-bin) of an error. */
export function grpcStatusHeaders(error: ConnectError, contentType: string): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { "content-type": contentType };
  setTrailerStatus(new Headers(), error).forEach((value, key) => {
    headers[key] = value;
  });
  return headers;
}

/**
 * Answers an AppError in the caller's RPC protocol: gRPC and gRPC-Web as
 * Trailers-Only, Connect as its error JSON with `httpStatus` (the Connect
 * code's status unless the caller passes another, e.g. 404 for an unknown
 * method, as the Connect protocol asks). The error is noted for the log line.
 */
export function answerRpcError(
  req: NodeServerRequest,
  res: NodeServerResponse,
  error: AppError,
  options: { readonly httpStatus: number; readonly extra?: OutgoingHttpHeaders },
): void {
  const log = requestStateOf(req);
  if (log) log.error = error;
  const connectError = toConnectError(error);
  const protocol = rpcProtocolOf(req.headers["content-type"]);
  if (protocol !== "connect") {
    const type = protocol === "grpc" ? "application/grpc+proto" : "application/grpc-web+proto";
    answerTrailersOnly(res, { ...options.extra, ...grpcStatusHeaders(connectError, type) });
    return;
  }
  if (res.headersSent || res.writableEnded) return;
  const body = errorToJsonBytes(connectError, {});
  res.writeHead(options.httpStatus, {
    ...options.extra,
    "content-type": "application/json",
    "content-length": body.byteLength,
    "x-request-id": requestIdOf(res),
  });
  res.end(body);
}
