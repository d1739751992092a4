/**
 * Sessions in the SQLite file (table `sessions`, migrations 1 and 5). Inserts
 * and gateway-token binds that arrive in the same turn of the event loop
 * share one transaction (group commit, batch-commit.ts), so one fsync
 * acknowledges many; no caller is answered before the transaction holding
 * its write has committed and, in durable mode, reached the disk.
 */
import { GatewayTokenInUseError, type SessionCheckStore, type SessionQueryStore } from "../../core/session-state.js";
import type { SessionRecord, SessionStore } from "../../core/session-store.js";
import { createMicroBatcher } from "../micro-batch.js";
import {
  insertStatement,
  SESSIONS,
  type SessionRow,
  selectByKey,
  sessionFromRow,
  sessionValues,
  storedSessionFromRow,
} from "../rows.js";
import { listSessionsStatement } from "../session-listing.js";
import { isUniqueViolation, storeClosed } from "../unavailable.js";
import { type Committed, createBatchCommit } from "./batch-commit.js";
import { SQLITE, type SqliteContext } from "./dialect.js";

type Row = SessionRow<number, string, number>;

/** The session methods, plus `flush` for the store's close. */
export type SqliteSessionQueries = Pick<SessionStore, "insertSession" | "findSession"> &
  SessionCheckStore &
  SessionQueryStore & { flush(): void };

interface BindResult {
  readonly hash: string | null;
  readonly changed: boolean;
}

interface Bind {
  readonly invoiceId: string;
  readonly tokenHash: string;
  readonly atMs: number;
}

/** The session queries over an open, migrated SQLite connection. */
export function createSqliteSessionQueries(ctx: SqliteContext): SqliteSessionQueries {
  const { db, afterCommit } = ctx;
  const insert = db.prepare(insertStatement(SESSIONS, SQLITE));
  const selectOne = db.prepare(selectByKey(SESSIONS, "invoice_id", SQLITE));
  const bindOne = db.prepare(
    `UPDATE sessions SET state = CASE state WHEN 'initiated' THEN 'checked' ELSE state END,
       checked_at_ms = ?, gateway_token_hash = ? WHERE invoice_id = ? AND gateway_token_hash IS NULL`,
  );
  const boundHash = db.prepare("SELECT gateway_token_hash FROM sessions WHERE invoice_id = ?");
  const selectByToken = db.prepare(selectByKey(SESSIONS, "gateway_token_hash", SQLITE));
  // The listing's text depends on which filters are set: one prepared statement per shape.
  const listings = new Map<string, ReturnType<typeof db.prepare>>();

  // Binds committed whose WAL sync is still running, by invoice id. A read
  // that sees such a binding waits for its sync: nothing answers from a
  // binding that a power loss could still take back.
  const unsynced = new Map<string, Promise<void>>();
  const synced = (invoiceId: string) => unsynced.get(invoiceId);

  // Resolves each committed call once the disk has its commit (at once when
  // not durable); resolves with that sync, if one was needed.
  function acknowledge<In, R>(committed: readonly Committed<In, R>[]): Promise<void> | undefined {
    if (!afterCommit || committed.length === 0) {
      for (const c of committed) c.entry.resolve(c.result);
      return undefined;
    }
    const durable = afterCommit();
    durable.then(
      () => {
        for (const c of committed) c.entry.resolve(c.result);
      },
      (e: unknown) => {
        for (const c of committed) c.entry.reject(e);
      },
    );
    return durable;
  }

  const commitInserts = createBatchCommit(db, (r: SessionRecord) => void insert.run(sessionValues(r, SQLITE)));
  const inserts = createMicroBatcher<SessionRecord, void>((batch) => void acknowledge(commitInserts(batch)));

  // The hash bound now or before (null: no such session), and whether this call bound it.
  const commitBinds = createBatchCommit(db, (b: Bind): BindResult => {
    const changed = bindOne.run(b.atMs, b.tokenHash, b.invoiceId).changes > 0;
    const row = boundHash.get(b.invoiceId) as { gateway_token_hash: string | null } | undefined;
    return { hash: row?.gateway_token_hash ?? null, changed };
  });
  const binds = createMicroBatcher<Bind, BindResult>((batch) => {
    const committed = commitBinds(batch);
    // A call that changed nothing wrote nothing to wait for (bindGatewayToken
    // waits for an earlier bind's sync itself).
    const durable = acknowledge(committed.filter((c) => c.result.changed));
    for (const c of committed) if (!c.result.changed) c.entry.resolve(c.result);
    if (!durable || !afterCommit) return;
    // The binder was told the store is unavailable if the sync failed, but
    // the row is committed: a reader waits for a fresh sync, and is refused
    // as unavailable too if that one fails.
    const settled = durable.catch(() => afterCommit());
    for (const c of committed) {
      if (!c.result.changed) continue;
      const id = c.entry.input.invoiceId;
      unsynced.set(id, settled);
      const forget = () => {
        if (unsynced.get(id) === settled) unsynced.delete(id);
      };
      settled.then(forget, forget);
    }
  });

  function listing(text: string) {
    let statement = listings.get(text);
    if (!statement) {
      statement = db.prepare(text);
      listings.set(text, statement);
    }
    return statement;
  }

  return {
    insertSession(record) {
      if (ctx.isClosed()) return Promise.reject(storeClosed("sqlite"));
      return inserts.add(record);
    },
    findSession: (invoiceId) =>
      ctx.run(() => {
        const row = selectOne.get(invoiceId) as Row | undefined;
        return row && sessionFromRow(row, SQLITE);
      }),
    async findStoredSession(invoiceId) {
      const row = await ctx.run(() => selectOne.get(invoiceId) as Row | undefined);
      if (!row) return undefined;
      if (row.gateway_token_hash !== null) await synced(invoiceId);
      return storedSessionFromRow(row, SQLITE);
    },
    async bindGatewayToken(invoiceId, tokenHash, at) {
      if (ctx.isClosed()) throw storeClosed("sqlite");
      const bound = await binds.add({ invoiceId, tokenHash, atMs: at.getTime() }).catch((e: unknown) => {
        throw isUniqueViolation("sqlite", e) ? new GatewayTokenInUseError() : e;
      });
      if (bound.hash === null) return undefined;
      // Bound before, by a bind whose sync may still be running.
      if (!bound.changed) await synced(invoiceId);
      return bound.hash;
    },
    async findSessionByGatewayToken(tokenHash) {
      const row = await ctx.run(() => selectByToken.get(tokenHash) as Row | undefined);
      if (!row) return undefined;
      await synced(row.invoice_id);
      return storedSessionFromRow(row, SQLITE);
    },
    listSessions: (query) =>
      ctx.run(() => {
        const { text, values } = listSessionsStatement(query, SQLITE);
        return (listing(text).all(values) as Row[]).map((row) => storedSessionFromRow(row, SQLITE));
      }),
    flush() {
      inserts.flush();
      binds.flush();
    },
  };
}
