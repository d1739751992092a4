/**
 * What the core asks of durable storage. SQLite implements it today;
 * PostgreSQL implements the same interface for several instances.
 */
import type { Operation } from "./initiate-request.js";

/** One started session, as stored before the answer leaves. */
export interface SessionRecord {
  readonly invoiceId: string;
  readonly operation: Operation;
  readonly endpointId: string;
  readonly nonce: string;
  readonly signature: string;
  readonly amountCentis: number | undefined;
  readonly currency: string;
  readonly serialNumber: string;
  readonly imei: string | undefined;
  readonly ipAddresses: readonly string[];
  readonly location: { readonly lat: number; readonly lng: number } | undefined;
  /** SHA-256 of the access token, hex; the token itself is never stored. */
  readonly accessTokenHash: string;
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
