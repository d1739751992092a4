/**
 * Access tokens in the SQLite file (table `access_tokens`, migration 2). Each
 * call is one short statement on the same connection as the sessions, so it
 * runs between the session store's group commits, never inside one.
 *
 * Reads go through a bounded write-through cache: the SQLite store serves one
 * server process (several instances use PostgreSQL), so every issue and
 * revocation passes through here and the cache never goes stale, while a
 * sale's token check no longer reads the file.
 */
import type Database from "better-sqlite3";
import type { AccessTokenRecord, AccessTokenStore } from "../core/access-token-store.js";
import { StoreUnavailableError } from "../core/session-store.js";

/** What the token queries borrow from the SQLite store that opened the file. */
export interface SqliteTokenQueriesOptions {
  readonly db: Database.Database;
  /** True once the store is closed; calls then reject as unavailable. */
  readonly isClosed: () => boolean;
  /** Turns a driver error into StoreUnavailableError when storage is unreachable. */
  readonly classify: (e: unknown) => unknown;
  /** Durable mode: resolves once the last commit is on disk. */
  readonly afterCommit?: (() => Promise<void>) | undefined;
}

interface TokenRow {
  token_hash: string;
  serial_number: string;
  issued_at_ms: number;
  expires_at_ms: number;
  revoked_at_ms: number | null;
}

function fromRow(row: TokenRow): AccessTokenRecord {
  return {
    tokenHash: row.token_hash,
    serialNumber: row.serial_number,
    issuedAt: new Date(row.issued_at_ms),
    expiresAt: new Date(row.expires_at_ms),
    revokedAt: row.revoked_at_ms === null ? undefined : new Date(row.revoked_at_ms),
  };
}

// Enough for every token of a busy hour; past it the oldest entries go.
const CACHE_ENTRIES = 50_000;

/** The AccessTokenStore methods over an open, migrated SQLite connection. */
export function createSqliteTokenQueries(options: SqliteTokenQueriesOptions): AccessTokenStore {
  const { db, isClosed, classify, afterCommit } = options;
  const insert = db.prepare(`INSERT INTO access_tokens
    (token_hash, serial_number, issued_at_ms, expires_at_ms, revoked_at_ms) VALUES (?, ?, ?, ?, ?)`);
  const select = db.prepare("SELECT * FROM access_tokens WHERE token_hash = ?");
  const revokeOne = db.prepare(
    "UPDATE access_tokens SET revoked_at_ms = ? WHERE token_hash = ? AND revoked_at_ms IS NULL",
  );
  const revokeDevice = db.prepare(
    "UPDATE access_tokens SET revoked_at_ms = ? WHERE serial_number = ? AND revoked_at_ms IS NULL",
  );

  function run<T>(work: () => T): Promise<T> {
    if (isClosed()) return Promise.reject(new StoreUnavailableError("sqlite: store is closed"));
    try {
      return Promise.resolve(work());
    } catch (e) {
      return Promise.reject(classify(e));
    }
  }

  // Map keeps insertion order, so the first key is the oldest entry.
  const cache = new Map<string, AccessTokenRecord>();
  function remember(record: AccessTokenRecord): AccessTokenRecord {
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
    cache.set(record.tokenHash, record);
    return record;
  }

  // A write is acknowledged only once durable (in durable mode).
  async function write<T>(work: () => T): Promise<T> {
    const result = await run(work);
    if (afterCommit) await afterCommit();
    return result;
  }

  return {
    insertToken: (r) =>
      write(() => {
        insert.run(
          r.tokenHash,
          r.serialNumber,
          r.issuedAt.getTime(),
          r.expiresAt.getTime(),
          r.revokedAt?.getTime() ?? null,
        );
        remember(r);
      }),
    findToken: (tokenHash) =>
      run(() => {
        const cached = cache.get(tokenHash);
        if (cached) return cached;
        const row = select.get(tokenHash) as TokenRow | undefined;
        return row && remember(fromRow(row));
      }),
    revokeToken: (tokenHash, at) =>
      write(() => {
        cache.delete(tokenHash);
        return revokeOne.run(at.getTime(), tokenHash).changes > 0;
      }),
    revokeDeviceTokens: (serialNumber, at) =>
      write(() => {
        // Rare: forget every cached token of the device rather than index them.
        for (const [hash, record] of cache) if (record.serialNumber === serialNumber) cache.delete(hash);
        return revokeDevice.run(at.getTime(), serialNumber).changes;
      }),
  };
}
