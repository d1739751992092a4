/**
 * A session's life after initiate, as the store keeps it: initiated → checked
 * (bound to TopTechPay's session token) → final (a final status arrived).
 */
import type { SessionRecord } from "./session-store.js";

/** Where a session is in the gateway's flow. */
export type SessionState = "initiated" | "checked" | "final";

/** A stored session with its state. */
export interface StoredSession extends SessionRecord {
  readonly state: SessionState;
  /** When TopTechPay's first successful check bound it; undefined before. */
  readonly checkedAt: Date | undefined;
  /** SHA-256 (hex) of TopTechPay's session token bound at that check. */
  readonly gatewayTokenHash: string | undefined;
  /** The gateway's final status (approved, declined, ...) from its callback; undefined before. */
  readonly finalStatus: string | undefined;
  /** The gateway's order id (`orderid`) from that callback. */
  readonly gatewayOrderId: string | undefined;
  /** When that callback was stored. */
  readonly finalAt: Date | undefined;
}

/** What the check asks of the store. Rejects with StoreUnavailableError when unreachable. */
export interface SessionCheckStore {
  /** The session with its state, or undefined. */
  findStoredSession(invoiceId: string): Promise<StoredSession | undefined>;
  /**
   * Binds an unbound session to a gateway token, atomically and durably
   * (committed before it resolves). Resolves with the hash bound now or
   * before: the caller compares it with its own to tell a repeat from a
   * second token. Undefined when no such session exists. A token already
   * bound to another session is refused by the store's unique key: rejects
   * with the driver's constraint error (not StoreUnavailableError), nothing bound.
   */
  bindGatewayToken(invoiceId: string, tokenHash: string, at: Date): Promise<string | undefined>;
  /**
   * The session bound to the gateway token with this SHA-256 (hex), or
   * undefined: how a card mapping notification, which has no invoice id,
   * finds its session.
   */
  findSessionByGatewayToken(tokenHash: string): Promise<StoredSession | undefined>;
}

/** Which sessions a back-office listing wants, newest first. */
export interface SessionQuery {
  readonly serialNumber: string | undefined;
  readonly state: SessionState | undefined;
  /** Created at or after. */
  readonly createdFrom: Date | undefined;
  /** Created strictly before. */
  readonly createdBefore: Date | undefined;
  /** Only sessions strictly older than this one in (createdAt, invoiceId) order: the page cursor. */
  readonly after: { readonly createdAt: Date; readonly invoiceId: string } | undefined;
  readonly limit: number;
}

/** What the back office asks of the store. Rejects with StoreUnavailableError when unreachable. */
export interface SessionQueryStore {
  /** Sessions matching the query, newest first (createdAt, then invoiceId, descending), at most `limit`. */
  listSessions(query: SessionQuery): Promise<StoredSession[]>;
}

/**
 * TopTechPay's session token is already bound to another session: a bind
 * rejects with this, nothing changed. The gateway draws a token per session,
 * so this is a misrouted or replayed check, never a retry.
 */
export class GatewayTokenInUseError extends Error {
  constructor() {
    super("the gateway session token is bound to another session");
    this.name = "GatewayTokenInUseError";
  }
}
