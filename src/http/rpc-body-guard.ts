/**
 * The body check in front of each unary RPC, InitiateService first (the
 * RPC handler, rpc-adapter.ts, puts it around every router handler).
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
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Compression,
  compressionNegotiate,
  createAsyncIterable,
  envelopeDecompress,
  pipe,
  readAllBytes,
  transformSplitEnvelope,
  type UniversalHandler,
  type UniversalServerRequest,
} from "@connectrpc/connect/protocol";
import { DeviceCardService } from "../../gen/toptechpay/card/v1/card_pb.js";
import { GatewayService } from "../../gen/toptechpay/gateway/v1/gateway_pb.js";
import { InitiateService } from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import type { CardAction } from "../core/card-request.js";
import { AppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import { checkCardJson, checkCheckJson, checkNotificationJson } from "./check-json.js";
import { toConnectError } from "./connect-errors.js";
import { decodeInitiateJson } from "./initiate-json.js";
import { parseJsonBody } from "./read-body.js";
import { CARD_LABELS, kRequestState } from "./request-state.js";

// connect-es's own content types for unary calls (see its content-type.js).
const CONNECT_UNARY = /^application\/(?:(json)(?:; ?charset=utf-?8)?|proto)$/i;
const GRPC = /^application\/grpc(?:-web)?(?:\+(?:(json)(?:; ?charset=utf-?8)?|proto))?$/i;

/** The operation label of each InitiateService method. */
export const RPC_OPERATIONS: ReadonlyMap<DescMethod, Operation> = new Map<DescMethod, Operation>([
  [InitiateService.method.sale, "sale"],
  [InitiateService.method.verification, "verification"],
]);

// GatewayService's checks and notifications, whose JSON bodies are refused
// with the JSON paths' codes.
const CHECK_OPERATIONS: ReadonlyMap<DescMethod, Operation> = new Map<DescMethod, Operation>([
  [GatewayService.method.checkSale, "sale"],
  [GatewayService.method.checkVerification, "verification"],
]);
const NOTIFICATION_OPERATIONS: ReadonlyMap<DescMethod, Operation> = new Map<DescMethod, Operation>([
  [GatewayService.method.saleNotification, "sale"],
  [GatewayService.method.verificationNotification, "verification"],
]);

// DeviceCardService's calls, whose JSON bodies are refused with the JSON card paths' codes.
const CARD_ACTIONS: ReadonlyMap<DescMethod, CardAction> = new Map<DescMethod, CardAction>([
  [DeviceCardService.method.listDeviceCards, "list"],
  [DeviceCardService.method.deleteDeviceCard, "delete"],
]);

/**
 * The request with a body whose first read throws `error`. Content-Length
 * goes: connect checks it against readMaxBytes before reading, which would
 * answer its own error instead of ours.
 */
export function failing(req: UniversalServerRequest, error: ConnectError): UniversalServerRequest {
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

/**
 * How a JSON body of a unary method is checked: by the core's validator for
 * InitiateService, GatewayService's checks and DeviceCardService, else as proto3 JSON.
 */
function jsonCheck(method: DescMethod): (input: DescMessage, raw: unknown) => void {
  const operation = RPC_OPERATIONS.get(method);
  if (operation !== undefined) return (input, raw) => decodeInitiateJson(operation, input, raw);
  const check = CHECK_OPERATIONS.get(method);
  if (check !== undefined) return (input, raw) => checkCheckJson(check, input, raw);
  const notification = NOTIFICATION_OPERATIONS.get(method);
  if (notification !== undefined) return (input, raw) => checkNotificationJson(notification, input, raw);
  const card = CARD_ACTIONS.get(method);
  if (card !== undefined) return (input, raw) => checkCardJson(card, input, raw);
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

/** The handler with the body check in front (unary methods; others are returned as they are). */
export function guardBody(
  handler: UniversalHandler,
  compressions: Compression[],
  readMaxBytes: number,
): UniversalHandler {
  if (handler.method.methodKind !== "unary") return handler;
  const card = CARD_ACTIONS.get(handler.method);
  // The label a refused body's log line and metrics carry, as the method's own answers do.
  const operation = RPC_OPERATIONS.get(handler.method) ?? (card && CARD_LABELS[card]);
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
    const log = req.contextValues?.get(kRequestState);
    if (log) {
      if (operation !== undefined) log.operation = operation;
      log.error = error;
    }
    return handler(failing(req, toConnectError(error)));
  };
  return Object.assign(guarded, handler);
}
