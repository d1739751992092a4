/**
 * In durable mode the SQLite store acknowledges a gateway-token binding only
 * once the WAL holding it is synced, and nothing answers from a binding whose
 * sync is still running: not a repeat bind, not a second token's bind, not a
 * read. The real file and the real session queries, with the one part that
 * cannot be watched from outside (the fdatasync, wal-sync.ts) replaced by a
 * gate the test opens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { drawNonce, newInvoiceId } from "../src/core/session-ids.js";
import { type SessionRecord, StoreUnavailableError } from "../src/core/session-store.js";
import type { SqliteContext } from "../src/store/sqlite/dialect.js";
import { applySqliteMigrations } from "../src/store/sqlite/migrations.js";
import { createSqliteSessionQueries } from "../src/store/sqlite/session-queries.js";

const dir = mkdtempSync(join(tmpdir(), "cp-bind-sync-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sync that completes only when the test says so. */
function gatedSync() {
  let opened = false;
  const waiting: { resolve(): void; reject(e: unknown): void }[] = [];
  return {
    afterCommit: () =>
      new Promise<void>((resolve, reject) => {
        if (opened) resolve();
        else waiting.push({ resolve, reject });
      }),
    open() {
      opened = true;
      for (const w of waiting.splice(0)) w.resolve();
    },
    /** The syncs waiting now fail, as a full or broken disk makes them. */
    fail() {
      for (const w of waiting.splice(0)) w.reject(new StoreUnavailableError("sqlite: cannot sync the WAL (EIO)"));
    },
    get pending() {
      return waiting.length;
    },
  };
}

function session(): SessionRecord {
  return {
    invoiceId: newInvoiceId(),
    operation: "sale",
    endpointId: "1111",
    nonce: drawNonce(),
    signature: "A".repeat(40),
    amountCentis: 100,
    currency: "EUR",
    serialNumber: "SN-SYNC",
    imei: undefined,
    ipAddresses: [],
    location: undefined,
    accessTokenHash: "f".repeat(64),
    createdAt: new Date(),
  };
}

/** A migrated file holding one stored session, and a context over it (no sync). */
async function fileWithSession(name: string) {
  const db = new Database(join(dir, name));
  db.pragma("journal_mode = WAL");
  applySqliteMigrations(db);
  const ctx: SqliteContext = { db, isClosed: () => false, run: async (work) => work(), afterCommit: undefined };
  const r = session();
  await createSqliteSessionQueries(ctx).insertSession(r);
  return { db, ctx, r };
}

/** Settles within a few turns of the event loop, or reports "pending". */
async function state(p: Promise<unknown>): Promise<"settled" | "pending"> {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return settled ? "settled" : "pending";
}

describe("sqlite: a binding is acknowledged only once synced", () => {
  it("bind, repeat, second token and read all wait for the bind's sync", async () => {
    const { db, ctx, r } = await fileWithSession("bind.db");

    const sync = gatedSync();
    const gated = createSqliteSessionQueries({ ...ctx, afterCommit: sync.afterCommit });
    const bind = gated.bindGatewayToken(r.invoiceId, "a".repeat(64), new Date());
    expect(await state(bind)).toBe("pending");
    // Committed (another connection sees it) but not yet acknowledged.
    const reader = new Database(join(dir, "bind.db"), { readonly: true });
    expect(reader.prepare("SELECT state FROM sessions WHERE invoice_id = ?").pluck().get(r.invoiceId)).toBe("checked");
    reader.close();

    const repeat = gated.bindGatewayToken(r.invoiceId, "a".repeat(64), new Date());
    const second = gated.bindGatewayToken(r.invoiceId, "b".repeat(64), new Date());
    const read = gated.findStoredSession(r.invoiceId);
    expect(await state(repeat)).toBe("pending");
    expect(await state(second)).toBe("pending");
    expect(await state(read)).toBe("pending");

    sync.open();
    expect(await bind).toBe("a".repeat(64));
    expect(await repeat).toBe("a".repeat(64));
    expect(await second).toBe("a".repeat(64));
    expect((await read)?.state).toBe("checked");
    // Once synced, nothing waits any more.
    expect(await state(gated.findStoredSession(r.invoiceId))).toBe("settled");
    db.close();
  });

  it("a failed sync refuses the bind as unavailable; a read then waits for a fresh sync, or is refused too", async () => {
    const { db, ctx, r } = await fileWithSession("failed.db");
    const sync = gatedSync();
    const queries = createSqliteSessionQueries({ ...ctx, afterCommit: sync.afterCommit });
    const bind = queries.bindGatewayToken(r.invoiceId, "c".repeat(64), new Date());
    while (sync.pending === 0) await new Promise((res) => setImmediate(res));
    sync.fail();
    await expect(bind).rejects.toBeInstanceOf(StoreUnavailableError);

    // The row is committed; the fresh sync the store started is still waiting.
    const read = queries.findStoredSession(r.invoiceId);
    expect(await state(read)).toBe("pending");
    sync.open();
    expect((await read)?.gatewayTokenHash).toBe("c".repeat(64));

    const other = session();
    await createSqliteSessionQueries(ctx).insertSession(other);
    const failing = gatedSync();
    const broken = createSqliteSessionQueries({ ...ctx, afterCommit: failing.afterCommit });
    const lost = broken.bindGatewayToken(other.invoiceId, "d".repeat(64), new Date());
    while (failing.pending === 0) await new Promise((res) => setImmediate(res));
    failing.fail();
    await expect(lost).rejects.toBeInstanceOf(StoreUnavailableError);
    const refused = broken.findStoredSession(other.invoiceId);
    while (failing.pending === 0) await new Promise((res) => setImmediate(res));
    failing.fail();
    await expect(refused).rejects.toBeInstanceOf(StoreUnavailableError);
    db.close();
  });
});
