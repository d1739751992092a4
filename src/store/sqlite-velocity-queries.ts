/**
 * Velocity counting in the SQLite file (table `velocity_events`, migration 3).
 * Calls that arrive in the same turn of the event loop share one IMMEDIATE
 * transaction (one fsync for many requests, as the session inserts do); inside
 * it each call inserts its rows and then counts, in arrival order, so every
 * call sees itself and every call before it, here or in another process on
 * the same file.
 */
import type Database from "better-sqlite3";
import { StoreUnavailableError } from "../core/session-store.js";
import type { VelocityEvent, VelocityStore } from "../core/velocity-store.js";

/** What the velocity queries borrow from the SQLite store that opened the file. */
export interface SqliteVelocityQueriesOptions {
  readonly db: Database.Database;
  /** True once the store is closed; calls then reject as unavailable. */
  readonly isClosed: () => boolean;
  /** Turns a driver error into StoreUnavailableError when storage is unreachable. */
  readonly classify: (e: unknown) => unknown;
}

interface PendingCall {
  readonly events: readonly VelocityEvent[];
  readonly atMs: number;
  readonly resolve: (counts: number[]) => void;
  readonly reject: (e: unknown) => void;
}

/** The VelocityStore methods over an open, migrated SQLite connection. */
export function createSqliteVelocityQueries(options: SqliteVelocityQueriesOptions): VelocityStore {
  const { db, isClosed, classify } = options;
  const insert = db.prepare("INSERT INTO velocity_events (dimension, key, at_ms) VALUES (?, ?, ?)");
  const count = db
    .prepare("SELECT count(*) FROM velocity_events WHERE dimension = ? AND key = ? AND at_ms > ? AND at_ms <= ?")
    .pluck();
  const prune = db.prepare("DELETE FROM velocity_events WHERE at_ms <= ?");

  const runBatch = db.transaction((batch: readonly PendingCall[]) =>
    batch.map((call) => {
      for (const e of call.events) insert.run(e.dimension, e.key, call.atMs);
      return call.events.map((e) => Number(count.get(e.dimension, e.key, e.since.getTime(), call.atMs)));
    }),
  );

  let pending: PendingCall[] = [];
  let scheduled = false;

  function flush(): void {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    if (isClosed()) {
      for (const call of batch) call.reject(new StoreUnavailableError("sqlite: store is closed"));
      return;
    }
    try {
      // IMMEDIATE: take the write lock before counting, so another process on
      // the same file cannot insert between this batch's inserts and counts.
      const results = runBatch.immediate(batch);
      batch.forEach((call, i) => {
        call.resolve(results[i] ?? []);
      });
    } catch (e) {
      const error = classify(e);
      for (const call of batch) call.reject(error);
    }
  }

  return {
    recordVelocity(events, at) {
      if (isClosed()) return Promise.reject(new StoreUnavailableError("sqlite: store is closed"));
      if (events.length === 0) return Promise.resolve([]);
      return new Promise<number[]>((resolve, reject) => {
        pending.push({ events, atMs: at.getTime(), resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    pruneVelocity(before) {
      if (isClosed()) return Promise.reject(new StoreUnavailableError("sqlite: store is closed"));
      try {
        return Promise.resolve(prune.run(before.getTime()).changes);
      } catch (e) {
        return Promise.reject(classify(e));
      }
    },
  };
}
