/**
 * What the core asks of durable storage for sessions. Implemented by the
 * SQLite file (src/store/sqlite/) and PostgreSQL (src/store/postgres/);
 * test/store-contract.test.ts holds both to the same contract.
 */
import type { HashedInitiateRequest } from "./initiate-request.js";

/**
 * One started session, as stored before the answer leaves: the validated
 * request without its access token (only the token's SHA-256,
 * `accessTokenHash`, is ever stored), plus what the server drew and signed.
 */
export interface SessionRecord extends Omit<HashedInitiateRequest, "accessToken"> {
  readonly invoiceId: string;
  readonly endpointId: string;
  readonly nonce: string;
  readonly signature: string;
  readonly createdAt: Date;
}

/** Durable storage of sessions. */
export interface SessionStore {
  /**
   * Stores a session; resolves only once it is committed (durable). Rejects
   * with StoreUnavailableError when storage cannot be reached.
   */
  insertSession(record: SessionRecord): Promise<void>;
  /** Reads a session back by invoice id. */
  findSession(invoiceId: string): Promise<SessionRecord | undefined>;
  /** Resolves when storage answers; rejects with StoreUnavailableError if not. */
  ping(): Promise<void>;
  /** Finishes pending writes and releases the storage. */
  close(): Promise<void>;
}

/**
 * Storage cannot be reached or written right now (disk full, file locked, read
 * only, database down). The caller may retry later; nothing was stored.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}
