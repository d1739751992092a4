/**
 * The hot case of gRPC, InitiateService's two unary methods over HTTP/2 with
 * uncompressed protobuf, served without connect-node's per-call machinery
 * (web-standard Headers, AbortSignals and async iterables per request), which
 * the benchmark's profile shows costing more than the work itself. Everything
 * else (compression, gRPC with JSON, gRPC-Web, Connect, other services, a
 * malformed grpc-timeout) falls through to connect. The protocol pieces come
 * from connect itself: envelope encoding, grpc-timeout parsing and the status
 * trailers with their ErrorDetail, so both paths answer byte for byte alike.
 */
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import {
  InitiateService,
  SaleRequestSchema,
  SaleResponseSchema,
  VerificationRequestSchema,
  VerificationResponseSchema,
} from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import { AppError, toAppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import type { InitiateService as Core } from "../core/initiate-service.js";
import { refusalOf } from "../ops/overload.js";
import { toConnectError } from "./connect-errors.js";
import { ClientGoneError, readBody } from "./json-routes.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import type { Route } from "./request-listener.js";
import { noteSuccess, requestLogOf } from "./request-log.js";

interface Method {
  readonly operation: Operation;
  readonly input: DescMessage;
  readonly output: typeof SaleResponseSchema | typeof VerificationResponseSchema;
}

const METHODS: ReadonlyMap<string, Method> = new Map([
  [
    `/${InitiateService.typeName}/${InitiateService.method.sale.name}`,
    { operation: "sale", input: SaleRequestSchema, output: SaleResponseSchema },
  ],
  [
    `/${InitiateService.typeName}/${InitiateService.method.verification.name}`,
    { operation: "verification", input: VerificationRequestSchema, output: VerificationResponseSchema },
  ],
]);
const PROTO = new Set(["application/grpc", "application/grpc+proto"]);
const RESPONSE_TYPE = "application/grpc+proto";
const HEADER_SIZE = 5;

/** Answers with status trailers only (no message), as gRPC does for errors. */
function answerError(req: NodeServerRequest, res: NodeServerResponse, error: AppError): void {
  if (res.headersSent || res.writableEnded) return;
  const log = requestLogOf(req);
  if (log) log.error = error;
  const headers: Record<string, string> = { "content-type": RESPONSE_TYPE };
  setTrailerStatus(new Headers(), toConnectError(error)).forEach((value, key) => {
    headers[key] = value;
  });
  res.writeHead(200, headers);
  res.end();
}

/** The one message of a unary gRPC body, or an AppError saying why not. */
function payloadOf(body: Buffer, input: DescMessage): Uint8Array {
  if (body.length === 0) throw new AppError("BODY_EMPTY", "The request has no message.");
  // One uncompressed message: flags 0, then its length, then exactly that many bytes.
  if (body.length < HEADER_SIZE || body[0] !== 0 || body.readUInt32BE(1) !== body.length - HEADER_SIZE) {
    throw new AppError("BODY_NOT_PROTOBUF", `The request body is not a valid ${input.typeName} protobuf message.`, {
      logDetail: "not one uncompressed gRPC message",
    });
  }
  return body.subarray(HEADER_SIZE);
}

/**
 * The route: serves the hot case and returns true, or returns false so the
 * request goes on to connect.
 */
export function grpcUnaryRoute(
  core: Core,
  options: { readonly maxBodyBytes: number; readonly requestTimeoutMs: number },
): Route {
  async function serve(
    req: NodeServerRequest,
    res: NodeServerResponse,
    method: Method,
    timeoutMs: number,
    callerDeadline: boolean,
  ) {
    const log = requestLogOf(req);
    if (log) log.operation = method.operation;
    const refusal = refusalOf(req);
    if (refusal) throw refusal;
    const timer = setTimeout(() => {
      const message = callerDeadline
        ? "The request did not finish within the caller's deadline."
        : `The request did not finish within ${timeoutMs} ms.`;
      answerError(req, res, new AppError("DEADLINE_EXCEEDED", message));
    }, timeoutMs);
    try {
      // The same bound connect applies: the whole enveloped body.
      const body = await readBody(req, options.maxBodyBytes);
      const bytes = payloadOf(body, method.input);
      let message: unknown;
      try {
        message = fromBinary(method.input, bytes);
      } catch (e) {
        throw new AppError(
          "BODY_NOT_PROTOBUF",
          `The request body is not a valid ${method.input.typeName} protobuf message.`,
          {
            logDetail: e instanceof Error ? e.message : String(e),
          },
        );
      }
      const result = await core.initiate(method.operation, message);
      // The deadline may have answered already; the session stays stored.
      if (res.headersSent || res.writableEnded) return;
      noteSuccess(log, result);
      const payload = toBinary(method.output, create(method.output, result));
      res.writeHead(200, { "content-type": RESPONSE_TYPE });
      res.addTrailers({ "grpc-status": "0" });
      res.end(encodeEnvelope(0, payload));
    } finally {
      clearTimeout(timer);
    }
  }

  return (req, res, path) => {
    const method = METHODS.get(path);
    if (method === undefined || req.httpVersionMajor !== 2 || req.method !== "POST") return false;
    const type = req.headers["content-type"];
    if (type === undefined || !PROTO.has(type)) return false;
    const encoding = req.headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const timeout = parseTimeout((req.headers["grpc-timeout"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) return false;
    const callerDeadline = timeout.timeoutMs !== undefined && timeout.timeoutMs < options.requestTimeoutMs;
    const timeoutMs = callerDeadline ? (timeout.timeoutMs as number) : options.requestTimeoutMs;
    serve(req, res, method, timeoutMs, callerDeadline).catch((e: unknown) => {
      if (e instanceof ClientGoneError) return;
      const error = toAppError(e);
      if (error.code === "BODY_TOO_LARGE") req.resume();
      answerError(req, res, error);
    });
    return true;
  };
}
