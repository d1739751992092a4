/**
 * The one place that decides which driver errors mean "the store cannot be
 * reached or written now" (StoreUnavailableError: the core answers
 * STORE_UNAVAILABLE, the caller may retry) as opposed to a bug or a
 * constraint violation, which pass through unchanged.
 */
import { StoreUnavailableError } from "../core/session-store.js";

/** Which store speaks, as the error message's prefix. */
export type StoreKind = "sqlite" | "postgres";

/** The error every call of a closed store rejects with. */
export function storeClosed(kind: StoreKind): StoreUnavailableError {
  return new StoreUnavailableError(`${kind}: store is closed`);
}

// SQLite result codes that mean "cannot reach or write the storage now".
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|NOMEM|PROTOCOL|NOTADB|CORRUPT)/;

// Errors thrown by node's socket layer when the server is away.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// SQLSTATEs meaning "not now": connection exception (08), insufficient
// resources (53), operator intervention (57: shutdown, cancel by timeout).
const POSTGRES_UNAVAILABLE = /^(08|53|57)/;
// pg and pg-pool report lost connections and their own timeouts without a code.
const POSTGRES_UNAVAILABLE_MESSAGE =
  /timeout|Connection terminated|Connection ended|not queryable|connection error|Client was closed|ended the pool/i;

function isAway(kind: StoreKind, e: unknown): string | undefined {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string") {
    const away =
      kind === "sqlite" ? SQLITE_UNAVAILABLE.test(code) : NETWORK_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code);
    return away ? code : undefined;
  }
  const coded = kind === "postgres" && e instanceof Error && !(e instanceof TypeError);
  return coded && POSTGRES_UNAVAILABLE_MESSAGE.test(e.message) ? e.message : undefined;
}

/**
 * Returns `e` as StoreUnavailableError when it says the storage is away
 * (already one: unchanged); any other error is returned as it is.
 */
export function classifyStoreError(kind: StoreKind, e: unknown): unknown {
  if (e instanceof StoreUnavailableError) return e;
  const reason = isAway(kind, e);
  return reason === undefined ? e : new StoreUnavailableError(`${kind}: ${reason}`, { cause: e });
}

/** Whether `e` is a unique-constraint violation (SQLite's SQLITE_CONSTRAINT_UNIQUE, PostgreSQL's 23505). */
export function isUniqueViolation(kind: StoreKind, e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return kind === "sqlite" ? code === "SQLITE_CONSTRAINT_UNIQUE" : code === "23505";
}
