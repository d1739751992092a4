/**
 * Group commit for the SQLite store's writes: one micro-batch (../micro-batch.ts)
 * runs in one transaction, so its commit writes the WAL once; if that
 * transaction fails, each call is retried in a transaction of its own, so one
 * bad call (a duplicate key) fails only itself.
 */
import type Database from "better-sqlite3";
import type { BatchEntry } from "../micro-batch.js";
import { classifyStoreError } from "../unavailable.js";

/** A call whose work committed, with what the work returned. */
export interface Committed<In, R> {
  readonly entry: BatchEntry<In, R>;
  readonly result: R;
}

/**
 * A function that commits a batch of `work` calls and returns those that
 * committed; each call that failed is rejected (with the classified error)
 * and left out.
 */
export function createBatchCommit<In, R>(
  db: Database.Database,
  work: (input: In) => R,
): (batch: readonly BatchEntry<In, R>[]) => Committed<In, R>[] {
  const all = db.transaction((batch: readonly BatchEntry<In, R>[]) => batch.map((p) => work(p.input)));
  const one = db.transaction(work);
  return (batch) => {
    try {
      const results = all(batch);
      return batch.map((entry, i) => ({ entry, result: results[i] as R }));
    } catch (batchError) {
      if (batch.length === 1) {
        batch[0]?.reject(classifyStoreError("sqlite", batchError));
        return [];
      }
      const committed: Committed<In, R>[] = [];
      for (const entry of batch) {
        try {
          committed.push({ entry, result: one(entry.input) });
        } catch (e) {
          entry.reject(classifyStoreError("sqlite", e));
        }
      }
      return committed;
    }
  };
}
