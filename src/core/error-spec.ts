/**
 * The shape of one entry of the error catalogue (error-catalogue.ts) and the
 * kinds most entries share, so the catalogue itself reads as the list it is.
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
  | "already_exists"
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

/** One entry of the catalogue. */
export function spec(cause: Cause, httpStatus: number, connectCode: ConnectCodeName, when: string): ErrorSpec {
  return { cause, httpStatus, connectCode, when };
}

/** A malformed request: 400, invalid_argument. */
export const invalid = (when: string) => spec("INVALID_REQUEST", 400, "invalid_argument", when);
/** A request refused on purpose: 403, permission_denied. */
export const refused = (when: string) => spec("INVALID_REQUEST", 403, "permission_denied", when);
/** Something named that does not exist: 404, not_found. */
export const notFound = (when: string) => spec("INVALID_REQUEST", 404, "not_found", when);
/** Refused by the merchant's risk filters: 403, permission_denied. */
export const filtered = (when: string) => spec("FILTERED", 403, "permission_denied", when);
/** The server cannot serve it now: 503, unavailable. */
export const unavailable = (when: string) => spec("SERVER_UNAVAILABLE", 503, "unavailable", when);
/** Out of time: 504, deadline_exceeded. */
export const overdue = (when: string) => spec("SERVER_UNAVAILABLE", 504, "deadline_exceeded", when);
