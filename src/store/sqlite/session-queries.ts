/**
 * Sessions in the SQLite file (table `sessions`, migration 1). Inserts that
 * arrive in the same turn of the event loop share one transaction (group
 * commit), so one fsync acknowledges many sessions; no caller is answered
 * before the transaction holding its row has committed (and, in durable
 * mode, reached the disk).
 */
import type { SessionRecord, SessionStore } from "../../core/session-store.js";
import { type BatchEntry, createMicroBatcher } from "../micro-batch.js";
import { insertStatement, SESSIONS, type SessionRow, selectByKey, sessionFromRow, sessionValues } from "../rows.js";
import { classifyStoreError, storeClosed } from "../unavailable.js";
import { SQLITE, type SqliteContext } from "./dialect.js";

type PendingInsert = BatchEntry<SessionRecord, void>;

/** The session methods, plus `flush` for the store's close. */
export type SqliteSessionQueries = Pick<SessionStore, "insertSession" | "findSession"> & { flush(): void };

/** The session queries over an open, migrated SQLite connection. */
export function createSqliteSessionQueries(ctx: SqliteContext): SqliteSessionQueries {
  const { db, afterCommit } = ctx;
  const insert = db.prepare(insertStatement(SESSIONS, SQLITE));
  const selectOne = db.prepare(selectByKey(SESSIONS, "invoice_id", SQLITE));
  const insertRow = (r: SessionRecord) => insert.run(sessionValues(r, SQLITE));
  const insertBatch = db.transaction((batch: readonly PendingInsert[]) => {
    for (const p of batch) insertRow(p.input);
  });

  // Commits one batch; returns the inserts whose rows are committed.
  function commit(batch: PendingInsert[]): PendingInsert[] {
    try {
      insertBatch(batch);
      return batch;
    } catch (batchError) {
      if (batch.length === 1) {
        batch[0]?.reject(classifyStoreError("sqlite", batchError));
        return [];
      }
      // One bad row must not fail its neighbours: retry each on its own.
      return batch.filter((p) => {
        try {
          insertRow(p.input);
          return true;
        } catch (e) {
          p.reject(classifyStoreError("sqlite", e));
          return false;
        }
      });
    }
  }

  const batcher = createMicroBatcher<SessionRecord, void>((batch) => {
    const committed = commit(batch);
    if (!afterCommit) {
      for (const p of committed) p.resolve();
      return;
    }
    afterCommit().then(
      () => {
        for (const p of committed) p.resolve();
      },
      (e: unknown) => {
        for (const p of committed) p.reject(e);
      },
    );
  });

  return {
    insertSession(record) {
      if (ctx.isClosed()) return Promise.reject(storeClosed("sqlite"));
      return batcher.add(record);
    },
    findSession: (invoiceId) =>
      ctx.run(() => {
        const row = selectOne.get(invoiceId) as SessionRow<number, string, number> | undefined;
        return row && sessionFromRow(row, SQLITE);
      }),
    flush: batcher.flush,
  };
}
