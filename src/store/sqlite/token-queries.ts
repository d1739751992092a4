/**
 * Access tokens in the SQLite file (table `access_tokens`, migration 2). Each
 * call is one short statement on the same connection as the sessions, so it
 * runs between the session store's group commits, never inside one.
 *
 * Reads go through a bounded write-through cache. That is safe because one
 * server process owns the file (enforced at open: sqlite/process-lock.ts;
 * several instances use PostgreSQL), so every issue and revocation passes
 * through here and the cache never goes stale, while a sale's token check no
 * longer reads the file.
 */
import type { AccessTokenRecord, AccessTokenStore } from "../../core/access-token-store.js";
import { ACCESS_TOKENS, insertStatement, selectByKey, type TokenRow, tokenFromRow, tokenValues } from "../rows.js";
import { SQLITE, type SqliteContext } from "./dialect.js";

// Enough for every token of a busy hour; past it the oldest entries go.
const CACHE_ENTRIES = 50_000;

/** The AccessTokenStore methods over an open, migrated SQLite connection. */
export function createSqliteTokenQueries(ctx: SqliteContext): AccessTokenStore {
  const { db, run, afterCommit } = ctx;
  const insert = db.prepare(insertStatement(ACCESS_TOKENS, SQLITE));
  const select = db.prepare(selectByKey(ACCESS_TOKENS, "token_hash", SQLITE));
  const revokeOne = db.prepare(
    "UPDATE access_tokens SET revoked_at_ms = ? WHERE token_hash = ? AND revoked_at_ms IS NULL",
  );
  const revokeDevice = db.prepare(
    "UPDATE access_tokens SET revoked_at_ms = ? WHERE serial_number = ? AND revoked_at_ms IS NULL",
  );

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
        insert.run(tokenValues(r, SQLITE));
        remember(r);
      }),
    findToken: (tokenHash) =>
      run(() => {
        const cached = cache.get(tokenHash);
        if (cached) return cached;
        const row = select.get(tokenHash) as TokenRow<number> | undefined;
        return row && remember(tokenFromRow(row, SQLITE));
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
