/**
 * Final-status callbacks in the SQLite file (table `gateway_callbacks`,
 * sessions' final status; migration 6). A callback is recorded in one
 * transaction, run synchronously so nothing else writes in between, and
 * acknowledged once its commit is on disk (ctx.afterCommit in durable mode).
 */
import type { CallbackStore } from "../../core/callback-store.js";
import {
  type CallbackRow,
  type CallbackStatements,
  callbackFromRow,
  callbackStatements,
  recordCallbackSteps,
} from "../callback-rows.js";
import { SQLITE, type SqliteContext } from "./dialect.js";

type Row = CallbackRow<number, number>;

/** The callback methods over an open, migrated SQLite connection. */
export function createSqliteCallbackQueries(ctx: SqliteContext): CallbackStore {
  const { db } = ctx;
  const text = callbackStatements(SQLITE);
  const prepared = Object.fromEntries(Object.entries(text).map(([name, sql]) => [name, db.prepare(sql)])) as Record<
    keyof CallbackStatements,
    ReturnType<typeof db.prepare>
  >;

  const record = db.transaction((callback: Parameters<CallbackStore["recordCallback"]>[0]) => {
    const steps = recordCallbackSteps(callback, SQLITE);
    let next = steps.next([]);
    while (!next.done) {
      const { statement, values } = next.value;
      next = steps.next(prepared[statement].all(values) as Record<string, unknown>[]);
    }
    return next.value;
  });

  return {
    async recordCallback(callback) {
      // IMMEDIATE: the write lock from the start, so the session read and the
      // writes that follow see one state even with a tool writing to the file.
      const outcome = await ctx.run(() => record.immediate(callback));
      await ctx.afterCommit?.();
      return outcome;
    },
    findCallbacks: (invoiceId) =>
      ctx.run(() => (prepared.bySession.all(invoiceId) as Row[]).map((row) => callbackFromRow(row, SQLITE))),
  };
}
