/**
 * One server process per SQLite file. The token cache (token-queries.ts) and
 * the group commit assume that every write to the file passes through this
 * process; a second server on the same file would keep serving tokens that
 * the first one revoked.
 *
 * The lock is SQLite's own: a small companion database `<file>.lock` whose
 * connection holds an EXCLUSIVE transaction for the store's whole life. That
 * is an fcntl lock taken by SQLite, so the kernel releases it when the
 * process ends in any way (SIGKILL and crashes included): no stale lock file
 * to clean up, no pid to check. The data file itself stays in WAL mode,
 * shared with the checkpointer's connection and with read-only tools such as
 * the `sqlite3` shell. A second process (or a second store in this process)
 * gets SQLITE_BUSY at once and is refused with SqliteFileInUseError.
 */
import Database from "better-sqlite3";

/** Another server process already owns the SQLite file. */
export class SqliteFileInUseError extends Error {
  constructor(path: string, options?: { cause?: unknown }) {
    super(
      `another cp-server process is already using the SQLite file ${path} ` +
        `(it holds ${lockPath(path)}). One process per SQLite file: stop the other process, ` +
        "give this one its own store.sqlite, or use PostgreSQL (store.postgres) to run several instances.",
      options,
    );
    this.name = "SqliteFileInUseError";
  }
}

/** A held lock; `release` lets the next process in. */
export interface ProcessLock {
  release(): void;
}

/** The companion file that carries the lock. */
function lockPath(dbPath: string): string {
  return `${dbPath}.lock`;
}

/** Takes the file's lock or throws SqliteFileInUseError; never waits. */
export function lockSqliteFile(dbPath: string): ProcessLock {
  const lock = new Database(lockPath(dbPath), { timeout: 0 });
  try {
    // In memory: holding the transaction never leaves a journal file behind.
    lock.pragma("journal_mode = MEMORY");
    lock.exec("BEGIN EXCLUSIVE");
  } catch (e) {
    lock.close();
    if ((e as { code?: unknown }).code === "SQLITE_BUSY") throw new SqliteFileInUseError(dbPath, { cause: e });
    throw e;
  }
  return {
    release() {
      if (lock.open) lock.close();
    },
  };
}
