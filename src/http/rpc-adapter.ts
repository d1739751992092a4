/**
 * Connect, gRPC and gRPC-Web on node:http and node:http2: connect-es's own
 * router and protocol handlers, with one addition, a body check in front of
 * each InitiateService method.
 *
 * Why the check: connect-es decodes the request message before any interceptor
 * or implementation runs and answers a decode failure itself, so a Connect-JSON
 * body with a wrong JSON type ("serialNumber": 5) got a bare invalid_argument,
 * and garbage protobuf bytes got `internal` ("parse binary"), both without the
 * ErrorDetail every other error carries. Interceptors run too late, and
 * connect's serialization has no hook for its errors. So each router handler
 * is wrapped: the wrapper reads the unary body with connect's own helpers
 * (readAllBytes, envelope split, decompression), checks it the way the JSON
 * paths do (JSON: parsed and run through the core's validator; binary:
 * decoded), and when it is bad, hands connect a body whose reading throws our
 * ConnectError. Connect then answers that error in the caller's protocol
 * (Connect error JSON, gRPC trailers, gRPC-Web trailer frame) like any other
 * error. A good body is handed on as the same bytes, so connect still does all
 * of the decoding that reaches the implementation.
 */
import { type DescMessage, type DescMethod, fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter, type ContextValues, createConnectRouter } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  envelopeDecompress,
  pipe,
  readAllBytes,
  transformPrepend,
  transformSplitEnvelope,
  type UniversalHandler,
  type UniversalServerRequest,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { GatewayService } from "../../gen/toptechpay/gateway/v1/gateway_pb.js";
import { InitiateService } from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import { AppError, toAppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import { checkCheckJson } from "./check-json.js";
import { toConnectError } from "./connect-errors.js";
import { decodeInitiateJson } from "./initiate-json.js";
import { parseJsonBody, sendError } from "./json-routes.js";
import type { NodeHandler, NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { kRequestLog, requestLogOf } from "./request-log.js";
import { answerRpcError, answerTrailersOnly, rpcProtocolOf } from "./rpc-answers.js";
import { refusalBeforeConnect } from "./rpc-refusals.js";

/** Options of the RPC handler; a subset of connectNodeAdapter's. */
export interface RpcHandlerOptions {
  /** Registers the services, as for connectNodeAdapter. */
  readonly routes: (router: ConnectRouter) => void;
  /** The largest request body (after decompression) accepted. */
  readonly readMaxBytes: number;
  /** Per-request context values (the request log). */
  readonly contextValues?: (req: NodeServerRequest) => ContextValues;
  /** Answers a path no RPC is served at. */
  readonly fallback: NodeHandler;
  /** Wraps each request's body as connect reads it (the deadline's hook). */
  readonly wrapBody?: (req: NodeServerRequest, body: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;
  /** Told when a handler failed without answering (never expected). */
  readonly onHandlerError?: (error: unknown, req: NodeServerRequest) => void;
}

// connect-es's own content types for unary calls (see its content-type.js).
const CONNECT_UNARY = /^application\/(?:(json)(?:; ?charset=utf-?8)?|proto)$/i;
const GRPC = /^application\/grpc(?:-web)?(?:\+(?:(json)(?:; ?charset=utf-?8)?|proto))?$/i;

const OPERATIONS: ReadonlyMap<DescMethod, Operation> = new Map<DescMethod, Operation>([
  [InitiateService.method.sale, "sale"],
  [InitiateService.method.verification, "verification"],
]);

// GatewayService's checks, whose JSON bodies are refused with the JSON check paths' codes.
const CHECK_OPERATIONS: ReadonlyMap<DescMethod, Operation> = new Map<DescMethod, Operation>([
  [GatewayService.method.checkSale, "sale"],
  [GatewayService.method.checkVerification, "verification"],
]);

/**
 * The request with a body whose first read throws `error`. Content-Length
 * goes: connect checks it against readMaxBytes before reading, which would
 * answer its own error instead of ours.
 */
function failing(req: UniversalServerRequest, error: ConnectError): UniversalServerRequest {
  const header = new Headers(req.header);
  header.delete("content-length");
  const body: AsyncIterable<Uint8Array> = {
    [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(error) }),
  };
  return { ...req, header, body };
}

/** BODY_MALFORMED, with what was wrong for the log (the fast gRPC route answers it alike). */
export function malformed(detail: unknown): AppError {
  return new AppError(
    "BODY_MALFORMED",
    "The request body is not exactly one complete message, or its compression is broken.",
    { logDetail: detail instanceof Error ? detail.message : String(detail) },
  );
}

/**
 * The message payload of a unary body, "empty" when it has none, or undefined
 * to leave the body to connect (a compression it does not take, refused
 * before: see rpc-refusals.ts). Throws BODY_TOO_LARGE (connect's
 * resource_exhausted) or BODY_MALFORMED.
 */
async function payloadOf(
  req: UniversalServerRequest,
  bytes: Uint8Array,
  enveloped: boolean,
  compressions: Compression[],
  readMaxBytes: number,
): Promise<Uint8Array | "empty" | undefined> {
  const h = req.header;
  const c = enveloped
    ? compressionNegotiate(compressions, h.get("grpc-encoding"), h.get("grpc-accept-encoding"), "grpc-accept-encoding")
    : compressionNegotiate(compressions, h.get("content-encoding"), h.get("accept-encoding"), "accept-encoding");
  if (c.error) return undefined;
  try {
    if (!enveloped) return c.request ? await c.request.decompress(bytes, readMaxBytes) : bytes;
    const envelopes = [];
    for await (const e of pipe(createAsyncIterable([bytes]), transformSplitEnvelope(readMaxBytes))) envelopes.push(e);
    // Bytes that hold no complete message are a broken frame, not an empty body.
    if (envelopes.length === 0) {
      if (bytes.length > 0) throw malformed("an incomplete message");
      return "empty";
    }
    const [only] = envelopes;
    if (envelopes.length > 1 || only === undefined) throw malformed(`${envelopes.length} messages in a unary call`);
    return (await envelopeDecompress(only, c.request, readMaxBytes)).data;
  } catch (e) {
    // Too large once decompressed: the caller's BODY_TOO_LARGE.
    if (e instanceof ConnectError && e.code === Code.ResourceExhausted) throw e;
    if (e instanceof AppError) throw e;
    throw malformed(e);
  }
}

/** The AppError a unary body deserves before connect decodes it, if any. */
async function checkBody(
  req: UniversalServerRequest,
  bytes: Uint8Array,
  checkJson: (input: DescMessage, raw: unknown) => void,
  input: DescMessage,
  compressions: Compression[],
  readMaxBytes: number,
): Promise<AppError | undefined> {
  const type = req.header.get("content-type") ?? "";
  const connect = CONNECT_UNARY.exec(type);
  const grpc = connect ? null : GRPC.exec(type);
  if (!connect && !grpc) return undefined;
  const json = Boolean((connect ?? grpc)?.[1]);
  let payload: Awaited<ReturnType<typeof payloadOf>>;
  try {
    payload = await payloadOf(req, bytes, grpc !== null, compressions, readMaxBytes);
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  if (payload === undefined) return undefined;
  if (payload === "empty") return new AppError("BODY_EMPTY", "The request has no message.");
  try {
    if (json) {
      // Valid proto3 JSON goes on to connect, which decodes it again; the core
      // then validates the message.
      checkJson(input, parseJsonBody(payload));
      return undefined;
    }
    fromBinary(input, payload);
    return undefined;
  } catch (e) {
    if (e instanceof AppError) return e;
    return new AppError("BODY_NOT_PROTOBUF", `The request body is not a valid ${input.typeName} protobuf message.`, {
      logDetail: e instanceof Error ? e.message : String(e),
    });
  }
}

/** How a JSON body of a unary method is checked: the core's validator for InitiateService, else proto3 JSON. */
function jsonCheck(method: DescMethod): (input: DescMessage, raw: unknown) => void {
  const operation = OPERATIONS.get(method);
  if (operation !== undefined) return (input, raw) => decodeInitiateJson(operation, input, raw);
  const check = CHECK_OPERATIONS.get(method);
  if (check !== undefined) return (input, raw) => checkCheckJson(check, input, raw);
  return (input, raw) => {
    try {
      fromJson(input, raw as JsonValue);
    } catch (e) {
      throw new AppError("FIELD_TYPE", `The request body is not a valid ${input.typeName} in proto3 JSON.`, {
        logDetail: e instanceof Error ? e.message : String(e),
      });
    }
  };
}

function guard(handler: UniversalHandler, compressions: Compression[], readMaxBytes: number): UniversalHandler {
  if (handler.method.methodKind !== "unary") return handler;
  const operation = OPERATIONS.get(handler.method);
  const input = handler.method.input;
  const checkJson = jsonCheck(handler.method);
  const guarded = async (req: UniversalServerRequest) => {
    if (
      req.method !== "POST" ||
      typeof req.body !== "object" ||
      req.body === null ||
      !(Symbol.asyncIterator in req.body)
    )
      return handler(req);
    let error: AppError | undefined;
    let bytes: Uint8Array;
    try {
      const hint = CONNECT_UNARY.test(req.header.get("content-type") ?? "") ? req.header.get("content-length") : null;
      bytes = await readAllBytes(req.body as AsyncIterable<Uint8Array>, readMaxBytes, hint);
      error = await checkBody(req, bytes, checkJson, input, compressions, readMaxBytes);
    } catch (e) {
      const ce = ConnectError.from(e);
      if (ce.code !== Code.ResourceExhausted) return handler(failing(req, ce));
      error = new AppError("BODY_TOO_LARGE", `The request body must be at most ${readMaxBytes} bytes.`);
      bytes = new Uint8Array(0);
    }
    if (error === undefined) return handler({ ...req, body: createAsyncIterable([bytes]) });
    const log = req.contextValues?.get(kRequestLog);
    if (log) {
      if (operation !== undefined) log.operation = operation;
      log.error = error;
    }
    return handler(failing(req, toConnectError(error)));
  };
  return Object.assign(guarded, handler);
}

/**
 * Writes connect's answer. A gRPC answer without a message (an error before
 * the first one) goes out as Trailers-Only, one HEADERS frame with
 * END_STREAM: connect-node writes its headers and trailers in two frames,
 * which is valid, but then carries the status only in the second one.
 */
async function writeAnswer(ures: UniversalServerResponse, res: NodeServerResponse): Promise<void> {
  const type = ures.header ? new Headers(ures.header).get("content-type") : null;
  if (ures.body === undefined || ures.trailer === undefined || rpcProtocolOf(type) !== "grpc") {
    return universalResponseToNodeResponse(ures, res);
  }
  const it = ures.body[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) {
    const headers: Record<string, string> = {};
    for (const h of [ures.header, ures.trailer]) {
      new Headers(h).forEach((value, key) => {
        headers[key] = value;
      });
    }
    answerTrailersOnly(res, headers);
    return;
  }
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => it };
  const body = pipe(
    rest,
    transformPrepend(() => first.value),
  );
  return universalResponseToNodeResponse({ ...ures, body }, res);
}

/**
 * The Node request handler serving the routed services over Connect, gRPC and
 * gRPC-Web; InitiateService's methods get the body check described above.
 */
export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const compressions = [compressionGzip, compressionBrotli];
  const router = createConnectRouter({ readMaxBytes: options.readMaxBytes, acceptCompression: compressions });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, guard(h, compressions, options.readMaxBytes));

  return (req: NodeServerRequest, res: NodeServerResponse) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      options.fallback(req, res);
      return;
    }
    const operation = OPERATIONS.get(handler.method);
    const log = requestLogOf(req);
    if (log && operation !== undefined) log.operation = operation;
    const refusal = refusalBeforeConnect(handler, req, compressions);
    if (refusal?.kind === "answer") {
      req.resume();
      answerRpcError(req, res, refusal.error, { httpStatus: refusal.httpStatus, extra: refusal.extra });
      return;
    }
    let ureq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    if (refusal) {
      if (log) log.error = refusal.error;
      const header = new Headers(ureq.header);
      header.delete(refusal.dropHeader);
      ureq = failing({ ...ureq, header }, toConnectError(refusal.error));
    } else if (options.wrapBody) {
      ureq.body = options.wrapBody(req, ureq.body as AsyncIterable<Uint8Array>);
    }
    handler(ureq)
      .then((ures) => writeAnswer(ures, res))
      .catch((e: unknown) => {
        if (ConnectError.from(e).code === Code.Aborted) return;
        const error = toAppError(e);
        options.onHandlerError?.(error, req);
        // Never leave the caller hanging: answer if nothing was sent, else end.
        if (!res.headersSent) sendError(req, res, error);
        else res.end();
      });
  };
}
