/**
 * The one list of every error this server can answer. Each entry has a stable
 * `code` (what callers branch on), the documented `cause`, the HTTP status used
 * on the JSON paths and the Connect code used over Connect, gRPC and gRPC-Web.
 *
 * The README repeats this table; `test/error-catalogue.test.ts` fails when the
 * two differ. Codes are never renamed or reused: add new ones instead.
 */

/** The four causes the gateway's contract allows in `error.cause`. */
export type Cause = "FILTERED" | "INVALID_REQUEST" | "SERVER_FAILED" | "SERVER_UNAVAILABLE";

/**
 * Connect code names as the Connect protocol spells them. Kept as plain strings
 * so the core does not depend on any transport library.
 */
export type ConnectCodeName =
  | "invalid_argument"
  | "unauthenticated"
  | "permission_denied"
  | "not_found"
  | "unimplemented"
  | "resource_exhausted"
  | "deadline_exceeded"
  | "unavailable"
  | "internal";

/** One row of the catalogue. */
export interface ErrorSpec {
  readonly cause: Cause;
  readonly httpStatus: number;
  readonly connectCode: ConnectCodeName;
  /** When this error is answered; the README table shows this text. */
  readonly when: string;
}

/** Every error, by stable code. The order is the README table's order. */
export const ERROR_CATALOGUE = {
  BODY_EMPTY: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "The request has no body.",
  },
  BODY_NOT_JSON: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "The body is not valid UTF-8 JSON (or not a valid protobuf message over gRPC).",
  },
  BODY_NOT_OBJECT: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "The body is JSON, but an array, a string, a number, true, false or null.",
  },
  BODY_TOO_LARGE: {
    cause: "INVALID_REQUEST",
    httpStatus: 413,
    connectCode: "resource_exhausted",
    when: "The body is larger than the configured limit (64 KiB by default).",
  },
  CONTENT_TYPE_UNSUPPORTED: {
    cause: "INVALID_REQUEST",
    httpStatus: 415,
    connectCode: "invalid_argument",
    when: "A JSON path was called with a content type other than application/json.",
  },
  METHOD_NOT_ALLOWED: {
    cause: "INVALID_REQUEST",
    httpStatus: 405,
    connectCode: "unimplemented",
    when: "A JSON path was called with a method other than POST (the answer has an Allow header).",
  },
  ROUTE_NOT_FOUND: {
    cause: "INVALID_REQUEST",
    httpStatus: 404,
    connectCode: "unimplemented",
    when: "No operation is served at this path.",
  },
  FIELD_REQUIRED: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "A required field or object is missing or null.",
  },
  FIELD_TYPE: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "A field has the wrong JSON type (for example a number where a string is documented).",
  },
  FIELD_LENGTH: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "A text field is shorter or longer than its documented length.",
  },
  FIELD_FORMAT: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "A field breaks its documented form (control characters, IMEI digits, IPv4 address, upper-case currency, whole number).",
  },
  FIELD_RANGE: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "A number is outside its documented range (latitude, longitude, amount).",
  },
  CURRENCY_UNKNOWN: {
    cause: "INVALID_REQUEST",
    httpStatus: 400,
    connectCode: "invalid_argument",
    when: "The currency has the right form but is not an ISO 4217 code.",
  },
  CURRENCY_NOT_ACCEPTED: {
    cause: "FILTERED",
    httpStatus: 403,
    connectCode: "permission_denied",
    when: "No configured endpoint serves this operation in this currency.",
  },
  STORE_UNAVAILABLE: {
    cause: "SERVER_UNAVAILABLE",
    httpStatus: 503,
    connectCode: "unavailable",
    when: "The session store cannot be reached; nothing was started. Retry later.",
  },
  INTERNAL_ERROR: {
    cause: "SERVER_FAILED",
    httpStatus: 500,
    connectCode: "internal",
    when: "Something unexpected broke inside the server; the log line for the request id says what.",
  },
} as const satisfies Record<string, ErrorSpec>;

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
