/**
 * The one list of every error this server can answer. Each entry has a stable
 * `code` (what callers branch on), the documented `cause`, the HTTP status used
 * on the JSON paths and the Connect code used over Connect, gRPC and gRPC-Web.
 *
 * The README repeats this table; `test/error-catalogue.test.ts` fails when the
 * two differ. Codes are never renamed or reused: add new ones instead.
 */

import {
  type Cause,
  type ErrorSpec,
  filtered,
  invalid,
  notFound,
  overdue,
  refused,
  spec,
  unavailable,
} from "./error-spec.js";

export type { Cause, ConnectCodeName, ErrorSpec } from "./error-spec.js";

/** Every error, by stable code. The order is the README table's order. */
export const ERROR_CATALOGUE = {
  BODY_EMPTY: invalid("The request has no body."),
  BODY_NOT_JSON: invalid("The body is not valid UTF-8 JSON."),
  BODY_NOT_PROTOBUF: invalid(
    "A Connect, gRPC or gRPC-Web body in binary encoding is not a valid protobuf message of the method's type.",
  ),
  BODY_NOT_OBJECT: invalid("The body is JSON, but an array, a string, a number, true, false or null."),
  BODY_TOO_LARGE: spec(
    "INVALID_REQUEST",
    413,
    "resource_exhausted",
    "The body is larger than the configured limit (`limits.maxBodyBytes`, 64 KiB by default), as sent or once decompressed.",
  ),
  BODY_MALFORMED: invalid(
    "An RPC body is not exactly one complete length-prefixed message (gRPC, gRPC-Web), or its compressed bytes do not decompress.",
  ),
  CONTENT_TYPE_UNSUPPORTED: spec(
    "INVALID_REQUEST",
    415,
    "invalid_argument",
    "A JSON path was called with a content type other than application/json, or an RPC with a content type of none of Connect, gRPC and gRPC-Web.",
  ),
  TIMEOUT_MALFORMED: invalid("The caller's `grpc-timeout` or `connect-timeout-ms` header is not a valid timeout."),
  ENCODING_UNSUPPORTED: spec(
    "INVALID_REQUEST",
    415,
    "unimplemented",
    "The body is compressed with an encoding the server does not take: on a JSON path a `Content-Encoding` other than `gzip`, `br` or `identity` (for example `deflate`, `zstd` or a list such as `gzip, br`; the answer has an `Accept-Encoding: gzip, br` header), on an RPC a `grpc-encoding` or `content-encoding` other than gzip, br or identity.",
  ),
  BODY_ENCODING_INVALID: invalid(
    "A JSON path's body labelled `Content-Encoding: gzip` or `br` is not valid data of that encoding.",
  ),
  METHOD_NOT_ALLOWED: spec(
    "INVALID_REQUEST",
    405,
    "unimplemented",
    "A JSON path or an RPC was called with a method other than POST (the answer has an Allow header).",
  ),
  ROUTE_NOT_FOUND: spec(
    "INVALID_REQUEST",
    404,
    "unimplemented",
    "No operation is served at this path (an RPC to an unknown service or method gets UNIMPLEMENTED in its protocol).",
  ),
  FIELD_REQUIRED: invalid("A required field or object is missing or null."),
  FIELD_TYPE: invalid(
    "A field has the wrong JSON type (for example a number where a string is documented, or a string for `location.lat`, which must be a JSON number).",
  ),
  FIELD_LENGTH: invalid("A text field is shorter or longer than its documented length."),
  FIELD_FORMAT: invalid(
    "A field breaks its documented form (control characters or a lone UTF-16 surrogate in a text, IMEI digits, IPv4 address, upper-case currency, an amount that is not a whole number or not a plain decimal integer string).",
  ),
  FIELD_RANGE: invalid("A number is outside its documented range (latitude, longitude, amount)."),
  CURRENCY_UNKNOWN: invalid("The currency has the right form but is not an ISO 4217 code."),
  ACCESS_TOKEN_INVALID: spec(
    "INVALID_REQUEST",
    401,
    "unauthenticated",
    "The access token was not issued by this server, has expired, was revoked, or was issued for another device (the log line says which).",
  ),
  API_KEY_INVALID: spec(
    "INVALID_REQUEST",
    401,
    "unauthenticated",
    "An AuthService, SessionService or CardService call has no `authorization: Bearer <key>` header, or the key is not one of the configured API keys.",
  ),
  CURRENCY_NOT_ACCEPTED: filtered("No configured endpoint serves this operation in this currency."),
  AMOUNT_BELOW_MINIMUM: filtered("A sale amount is below the minimum configured for its currency (`filters.amounts`)."),
  AMOUNT_ABOVE_MAXIMUM: filtered("A sale amount is above the maximum configured for its currency (`filters.amounts`)."),
  DEVICE_BLOCKED: filtered("The device serial number or IMEI is on the blocklist (`filters.blockedDevices`)."),
  IP_ADDRESS_REQUIRED: filtered("The request carries no IP address and `filters.ipAddresses.required` is true."),
  IP_ADDRESS_BLOCKED: filtered("One of the request IP addresses is in a blocked range (`filters.ipAddresses.block`)."),
  IP_ADDRESS_NOT_ALLOWED: filtered(
    "An allowlist is configured and one of the request IP addresses is outside it (`filters.ipAddresses.allow`).",
  ),
  LOCATION_REQUIRED: filtered("The request has no location and `filters.locations.required` is true."),
  LOCATION_NOT_ALLOWED: filtered("The location is outside every allowed box (`filters.locations.allow`)."),
  VELOCITY_DEVICE: filtered(
    "The device started more initiates in the sliding window than `filters.velocity.perDevice` allows.",
  ),
  VELOCITY_TOKEN: filtered(
    "The access token started more initiates in the sliding window than `filters.velocity.perToken` allows.",
  ),
  VELOCITY_IP: filtered(
    "An IP address of the request started more initiates in the sliding window than `filters.velocity.perIp` allows.",
  ),
  SESSION_NOT_FOUND: notFound(
    "A check names an invoice this server never started, or one started for the other operation (a sale checked as a verification); SessionService's GetSession or WatchSession names an invoice this server never started.",
  ),
  SESSION_MISMATCH: refused(
    "A check's serial number, access token, nonce or signature differs from the stored session, or the access token was revoked since the initiate (the log line says which); nothing is bound. A card mapping notification's serial number or access token differs from its session's; nothing is stored.",
  ),
  CHECK_WINDOW_CLOSED: refused(
    "The first check of a session came later than `gateway.checkWindowSeconds` (15 minutes by default) after its initiate; nothing is bound.",
  ),
  SESSION_ALREADY_CHECKED: spec(
    "INVALID_REQUEST",
    409,
    "already_exists",
    "The session was already checked with another TopTechPay session token: one session pays at most once.",
  ),
  GATEWAY_TOKEN_IN_USE: spec(
    "INVALID_REQUEST",
    409,
    "already_exists",
    "A check's TopTechPay session token (`session.token`) is already bound to another session; nothing is bound.",
  ),
  GATEWAY_TOKEN_UNKNOWN: notFound(
    "A card mapping notification's `session.token` is bound to no checked session of the path's operation (unknown, never checked, a sale's token on a verification path or the reverse), or, in the `/{invoiceId}/notification` form, to another invoice; nothing is stored.",
  ),
  CARD_NOT_OWNED: refused(
    "A check sale names a `clientCardId` this device does not own (unknown, deleted, or another device's); nothing is bound.",
  ),
  CARD_NOT_FOUND: notFound(
    "A card delete (the app's or the back office's) names a `clientCardId` that is unknown, already deleted, or, for the app, another device's card; all three get the same answer and nothing changes.",
  ),
  PEER_NOT_ALLOWED: refused("A gateway-facing path was called from an address outside `gateway.allowFrom`."),
  ENDPOINT_UNKNOWN: notFound("The endpoint id of a `/callback/{endpointId}` path is not configured; nothing stored."),
  CALLBACK_CONTROL_INVALID: refused("A callback's `control` is missing or does not verify; nothing is stored."),
  CALLBACK_PARAM_MISSING: invalid("A callback lacks `status`, `type`, `orderid` or `client_orderid`, or one is empty."),
  CALLBACK_PARAM_REPEATED: invalid("A callback names a parameter more than once; nothing is stored."),
  CALLBACK_PARAM_TOO_LONG: invalid("A callback has over 64 parameters, a name over 64 characters or a value over 256."),
  STORE_UNAVAILABLE: unavailable("The session store cannot be reached; nothing was started. Retry later."),
  HEADERS_TOO_LARGE: spec(
    "INVALID_REQUEST",
    431,
    "resource_exhausted",
    "The request's headers are larger than `limits.maxHeaderBytes` (16 KiB by default); over HTTP/1.1 the connection is closed.",
  ),
  REQUEST_TIMEOUT: spec(
    "INVALID_REQUEST",
    408,
    "invalid_argument",
    "The request's headers did not arrive within `limits.headersTimeoutMs` (or its body not within the request timeout); the connection is closed.",
  ),
  HTTP_MALFORMED: invalid("The bytes received are not a valid HTTP/1.1 request; the connection is closed."),
  HOST_MISSING: invalid("An HTTP/1.1 request has no `Host` header; the connection is closed."),
  EXPECTATION_FAILED: spec(
    "INVALID_REQUEST",
    417,
    "invalid_argument",
    "The request has an `Expect` header other than `100-continue`; the connection is closed on HTTP/1.1.",
  ),
  OVERLOADED: unavailable(
    "The server already has `limits.maxInFlight` requests in flight; nothing was started. Retry after the `Retry-After` seconds.",
  ),
  SHUTTING_DOWN: unavailable(
    "The server is shutting down and takes no new requests; nothing was started (an open WatchSession stream ends with it too). Retry on another instance.",
  ),
  WATCHES_EXHAUSTED: spec(
    "SERVER_UNAVAILABLE",
    503,
    "resource_exhausted",
    "The server already streams `limits.maxWatches` WatchSession calls; nothing was started. Retry later or on another instance.",
  ),
  WATCH_EXPIRED: overdue(
    "A WatchSession stream lasted `limits.watchMaxSeconds` (15 minutes by default) without the session becoming final; every change until then was sent. Watch again to go on.",
  ),
  DEADLINE_EXCEEDED: overdue(
    "The request outlived its deadline, the caller's (`grpc-timeout`, `connect-timeout-ms`) or the server's `limits.requestTimeoutMs`; it may or may not have been stored. Retry with a new request.",
  ),
  INTERNAL_ERROR: spec(
    "SERVER_FAILED",
    500,
    "internal",
    "Something unexpected broke inside the server; the log line for the request id says what.",
  ),
} satisfies Record<string, ErrorSpec>;

/** A stable error code from the catalogue. */
export type ErrorCode = keyof typeof ERROR_CATALOGUE;

/**
 * A failure the server answers on purpose. `message` is safe to show to the
 * caller; `logDetail` is for the server's log only (never sent).
 */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly spec: ErrorSpec;
  readonly logDetail: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { logDetail?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AppError";
    this.code = code;
    this.spec = ERROR_CATALOGUE[code];
    this.logDetail = options?.logDetail;
  }

  /** The documented error body, `{"error": {"cause", "code", "message"}}`. */
  toBody(): { error: { cause: Cause; code: ErrorCode; message: string } } {
    return { error: { cause: this.spec.cause, code: this.code, message: this.message } };
  }
}

/**
 * Turns anything thrown into an AppError; an unknown throwable becomes
 * INTERNAL_ERROR with a generic public message, so internals never reach a caller.
 */
export function toAppError(thrown: unknown): AppError {
  if (thrown instanceof AppError) return thrown;
  return new AppError("INTERNAL_ERROR", "The server failed to process the request.", {
    logDetail: thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown),
    cause: thrown,
  });
}
