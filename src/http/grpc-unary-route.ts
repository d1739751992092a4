/**
 * The hot case of gRPC: InitiateService's two unary methods over HTTP/2 with
 * uncompressed protobuf, served on the lean skeleton (lean-unary.ts) instead
 * of connect-node. Everything else (compression, gRPC with JSON, gRPC-Web,
 * other services, a malformed grpc-timeout) falls through to connect. The
 * protocol pieces are connect's own: envelope encoding, grpc-timeout parsing
 * and the status trailers with their ErrorDetail.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { parseTimeout } from "@connectrpc/connect/protocol-grpc";
import { AppError } from "../core/error-catalogue.js";
import type { Initiator } from "../core/initiator.js";
import { toConnectError } from "./connect-errors.js";
import { type LeanCodec, leanUnaryRoute } from "./lean-unary.js";
import { requestIdOf } from "./request-state.js";
import type { Route } from "./route.js";
import { answerTrailersOnly, grpcStatusHeaders } from "./rpc-answers.js";
import { malformed } from "./rpc-body-guard.js";

const PROTO = new Set(["application/grpc", "application/grpc+proto"]);
const RESPONSE_TYPE = "application/grpc+proto";
const HEADER_SIZE = 5;

const grpcCodec: LeanCodec = {
  takes(req) {
    const type = req.headers["content-type"];
    if (req.httpVersionMajor !== 2 || type === undefined || !PROTO.has(type)) return false;
    const encoding = req.headers["grpc-encoding"];
    return encoding === undefined || encoding === "identity";
  },
  callerTimeout(req) {
    const header = req.headers["grpc-timeout"];
    return parseTimeout(typeof header === "string" ? header : null, Number.MAX_SAFE_INTEGER);
  },
  decode(body, method) {
    if (body.length === 0) throw new AppError("BODY_EMPTY", "The request has no message.");
    const notProtobuf = (detail: string) =>
      new AppError("BODY_NOT_PROTOBUF", `The request body is not a valid ${method.input.typeName} protobuf message.`, {
        logDetail: detail,
      });
    // One uncompressed message: flags 0, then its length, then exactly that
    // many bytes; anything else is what connect's path calls BODY_MALFORMED.
    if (body.length < HEADER_SIZE || body[0] !== 0 || body.readUInt32BE(1) !== body.length - HEADER_SIZE) {
      throw malformed("not one uncompressed gRPC message");
    }
    try {
      return fromBinary(method.input, body.subarray(HEADER_SIZE));
    } catch (e) {
      throw notProtobuf(e instanceof Error ? e.message : String(e));
    }
  },
  answer(res, method, result) {
    const payload = toBinary(method.output, create(method.output, result));
    res.writeHead(200, { "content-type": RESPONSE_TYPE, "x-request-id": requestIdOf(res) });
    res.addTrailers({ "grpc-status": "0" });
    res.end(encodeEnvelope(0, payload));
  },
  // Status in the headers and no message: one HEADERS frame with END_STREAM
  // ("Trailers-Only"), as gRPC answers errors (see rpc-answers.ts).
  answerError(_req, res, error) {
    answerTrailersOnly(res, grpcStatusHeaders(toConnectError(error), RESPONSE_TYPE));
  },
};

/** The route: serves the hot case and returns true, or returns false for connect. */
export function grpcUnaryRoute(
  core: Initiator,
  options: { readonly maxBodyBytes: number; readonly requestTimeoutMs: number },
): Route {
  return leanUnaryRoute(core, grpcCodec, options);
}
