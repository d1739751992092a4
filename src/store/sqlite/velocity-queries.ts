/**
 * Velocity counting in the SQLite file (table `velocity_events`, migration 3).
 * Calls that arrive in the same turn of the event loop share one IMMEDIATE
 * transaction (one fsync for many requests, as the session inserts do); inside
 * it each call inserts its rows and then counts, in arrival order, so every
 * call sees itself and every call before it.
 */
import type { VelocityEvent, VelocityStore } from "../../core/velocity-store.js";
import { type BatchEntry, createMicroBatcher } from "../micro-batch.js";
import { classifyStoreError, storeClosed } from "../unavailable.js";
import type { SqliteContext } from "./dialect.js";

interface Call {
  readonly events: readonly VelocityEvent[];
  readonly atMs: number;
}

/** The VelocityStore methods over an open, migrated SQLite connection. */
export function createSqliteVelocityQueries(ctx: SqliteContext): VelocityStore {
  const { db, run, isClosed } = ctx;
  const insert = db.prepare("INSERT INTO velocity_events (dimension, key, at_ms) VALUES (?, ?, ?)");
  const count = db
    .prepare("SELECT count(*) FROM velocity_events WHERE dimension = ? AND key = ? AND at_ms > ? AND at_ms <= ?")
    .pluck();
  const prune = db.prepare("DELETE FROM velocity_events WHERE at_ms <= ?");

  const runBatch = db.transaction((batch: readonly BatchEntry<Call, number[]>[]) =>
    batch.map(({ input: call }) => {
      for (const e of call.events) insert.run(e.dimension, e.key, call.atMs);
      return call.events.map((e) => Number(count.get(e.dimension, e.key, e.since.getTime(), call.atMs)));
    }),
  );

  const batcher = createMicroBatcher<Call, number[]>((batch) => {
    if (isClosed()) {
      for (const call of batch) call.reject(storeClosed("sqlite"));
      return;
    }
    try {
      // IMMEDIATE: take the write lock before counting, so nothing else can
      // insert between this batch's inserts and counts.
      const results = runBatch.immediate(batch);
      batch.forEach((call, i) => {
        call.resolve(results[i] ?? []);
      });
    } catch (e) {
      const error = classifyStoreError("sqlite", e);
      for (const call of batch) call.reject(error);
    }
  });

  return {
    recordVelocity(events, at) {
      if (isClosed()) return Promise.reject(storeClosed("sqlite"));
      if (events.length === 0) return Promise.resolve([]);
      return batcher.add({ events, atMs: at.getTime() });
    },
    pruneVelocity: (before) => run(() => prune.run(before.getTime()).changes),
  };
}
