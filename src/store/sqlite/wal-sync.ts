/**
 * Durable acknowledgement for the SQLite store without blocking the event
 * loop. The connection runs with synchronous=NORMAL, so a commit only writes
 * its WAL frames; before a durable write is acknowledged, the WAL file is
 * fdatasync'ed on libuv's thread pool. That is the flush synchronous=FULL
 * performs at every commit, moved off the main thread and shared: one sync
 * covers every commit made before it started (group commit).
 */
import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";
import { StoreUnavailableError } from "../../core/session-store.js";

/** Waits for commits to reach the disk. */
export interface WalSync {
  /**
   * Resolves once every commit made before this call is on disk; rejects with
   * StoreUnavailableError when the sync fails.
   */
  afterCommit(): Promise<void>;
  /** Waits for syncs in flight, then releases the file. */
  close(): Promise<void>;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

// Up to this many fdatasync calls at once (libuv's pool has 4 threads): a
// commit made while others sync starts its own sync at once instead of
// waiting a whole sync for its turn; the file system merges concurrent syncs.
const MAX_SYNCS = 3;

/** Syncs the WAL file of the SQLite database at `dbPath`. */
export function createWalSync(dbPath: string): WalSync {
  const walPath = `${dbPath}-wal`;
  let waiting: Waiter[] = [];
  const inFlight = new Set<Promise<void>>();
  let handle: Promise<FileHandle> | undefined;

  // The WAL file, opened once. SQLite keeps that file (same inode) while its
  // connection is open, resetting it in place after checkpoints.
  function walFile(): Promise<FileHandle> {
    handle ??= (async () => {
      const wal = await open(walPath, "r+");
      // SQLite syncs the folder once when it creates the WAL; so do we.
      const dir = await open(dirname(dbPath), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      return wal;
    })().catch((e: unknown) => {
      handle = undefined;
      throw e;
    });
    return handle;
  }

  function startSync(): void {
    if (waiting.length === 0 || inFlight.size >= MAX_SYNCS) return;
    const group = waiting;
    waiting = [];
    const done: Promise<void> = walFile()
      .then((wal) => wal.datasync())
      .then(
        () => {
          for (const w of group) w.resolve();
        },
        (e: unknown) => {
          const error = new StoreUnavailableError(`sqlite: cannot sync the WAL (${(e as Error).message})`, {
            cause: e,
          });
          for (const w of group) w.reject(error);
        },
      )
      .finally(() => {
        inFlight.delete(done);
        startSync();
      });
    inFlight.add(done);
  }

  return {
    afterCommit() {
      return new Promise<void>((resolve, reject) => {
        waiting.push({ resolve, reject });
        startSync();
      });
    },
    async close() {
      while (inFlight.size > 0 || waiting.length > 0) {
        startSync();
        await Promise.all(inFlight);
      }
      await handle?.then((wal) => wal.close()).catch(() => undefined);
    },
  };
}
