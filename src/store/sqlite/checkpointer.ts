/**
 * WAL checkpoints for the SQLite store, run on a worker thread. A checkpoint
 * copies committed pages from the WAL into the database file and fsyncs it;
 * SQLite's automatic checkpoint does that inside whichever commit crosses the
 * threshold, on the event loop, stalling every request behind it. Here a
 * second connection on a worker thread runs PASSIVE checkpoints (they never
 * block readers or writers) on a timer, and the main connection never
 * checkpoints. If the worker fails, the main connection takes the job back.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import type Database from "better-sqlite3";
import type { Logger } from "pino";

// Plain CommonJS evaluated by the worker: the same code runs from src/ under
// vitest and from dist/ in production, with no second build entry.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
// NORMAL: a checkpoint syncs the WAL before copying and the database after.
db.pragma("synchronous = NORMAL");
const checkpoint = () => db.pragma("wal_checkpoint(PASSIVE)");
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on("message", (message) => {
  if (message !== "close") return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

/** A running checkpointer. */
export interface Checkpointer {
  /** Runs a last checkpoint and stops the worker. */
  close(): Promise<void>;
}

/**
 * Turns off the main connection's automatic checkpoints and starts the worker
 * that takes them over, every `intervalMs`.
 */
export function startCheckpointer(
  db: Database.Database,
  path: string,
  options: { readonly intervalMs?: number; readonly logger?: Logger | undefined } = {},
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { driver, path, intervalMs: options.intervalMs ?? 100 },
  });
  db.pragma("wal_autocheckpoint = 0");
  let closing = false;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const takeBack = (why: string) => {
    if (closing || !db.open) return;
    // Without checkpoints the WAL would grow for ever: back to SQLite's default.
    db.pragma("wal_autocheckpoint = 1000");
    options.logger?.error({ reason: why }, "sqlite checkpointer stopped; checkpoints run on the main thread");
  };
  worker.on("error", (e) => takeBack(e.message));
  worker.once("exit", (code) => takeBack(`worker exited with code ${code}`));
  // The worker must not keep the process alive on its own.
  worker.unref();
  return {
    async close() {
      closing = true;
      // Keep the process alive until the last checkpoint is done.
      worker.ref();
      worker.postMessage("close");
      await exited;
    },
  };
}
