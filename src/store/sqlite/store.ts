/**
 * The embedded store: one SQLite file in WAL mode, owned by one server
 * process (process-lock.ts). Sessions, tokens, velocity counts and cards each have
 * their query module; this file opens the connection, migrates it, and
 * wires the durability machinery (checkpointer.ts, wal-sync.ts) they share.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "pino";
import type { AccessTokenStore } from "../../core/access-token-store.js";
import type { CardStore } from "../../core/card-store.js";
import type { SessionCheckStore, SessionQueryStore } from "../../core/session-state.js";
import type { SessionStore } from "../../core/session-store.js";
import type { VelocityStore } from "../../core/velocity-store.js";
import { classifyStoreError, storeClosed } from "../unavailable.js";
import { createSqliteCardQueries } from "./card-queries.js";
import { startCheckpointer } from "./checkpointer.js";
import type { SqliteContext } from "./dialect.js";
import { applySqliteMigrations } from "./migrations.js";
import { lockSqliteFile } from "./process-lock.js";
import { createSqliteSessionQueries } from "./session-queries.js";
import { createSqliteTokenQueries } from "./token-queries.js";
import { createSqliteVelocityQueries } from "./velocity-queries.js";
import { createWalSync } from "./wal-sync.js";

/**
 * `full`: nothing is acknowledged before it is on disk. The connection runs
 * with synchronous=NORMAL and each acknowledged write waits for an fdatasync
 * of the WAL holding its frames (see wal-sync.ts): the flush
 * synchronous=FULL performs, off the event loop and shared by concurrent
 * writes.
 * `normal`: synchronous=NORMAL in WAL mode, the fastest setting SQLite calls
 * safe: the file is never corrupted, but the last commits before a power loss
 * or OS crash (not a process crash) may be rolled back.
 */
export type SqliteDurability = "full" | "normal";

/** Options of the SQLite store. */
export interface SqliteStoreOptions {
  readonly path: string;
  readonly durability?: SqliteDurability;
  /** How long a write waits for a lock held by another connection (the checkpointer, a tool). */
  readonly busyTimeoutMs?: number;
  /** Where the store reports trouble that no request sees. */
  readonly logger?: Logger | undefined;
}

function openConnection(options: SqliteStoreOptions): Database.Database {
  const db = new Database(options.path);
  try {
    db.pragma("journal_mode = WAL");
    // NORMAL in both modes: durable mode syncs the WAL itself before it
    // acknowledges. Never prepare a "PRAGMA synchronous" statement: SQLite
    // applies that pragma when the statement is compiled, not when run.
    db.pragma("synchronous = NORMAL");
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
    applySqliteMigrations(db);
    return db;
  } catch (e) {
    db.close();
    throw e;
  }
}

/**
 * Opens (creating if needed) the SQLite file, migrates it, and returns the
 * store. Throws SqliteFileInUseError when another process has it open.
 */
export function openSqliteStore(
  options: SqliteStoreOptions,
): SessionStore &
  SessionCheckStore &
  SessionQueryStore &
  AccessTokenStore &
  VelocityStore &
  CardStore & { readonly db: Database.Database } {
  mkdirSync(dirname(options.path), { recursive: true });
  const lock = lockSqliteFile(options.path);
  let db: Database.Database;
  try {
    db = openConnection(options);
  } catch (e) {
    lock.release();
    throw e;
  }
  const checkpointer = startCheckpointer(db, options.path, { logger: options.logger });
  const walSync = options.durability === "normal" ? undefined : createWalSync(options.path);

  let closed = false;
  const ctx: SqliteContext = {
    db,
    isClosed: () => closed,
    run(work) {
      if (closed) return Promise.reject(storeClosed("sqlite"));
      try {
        return Promise.resolve(work());
      } catch (e) {
        return Promise.reject(classifyStoreError("sqlite", e));
      }
    },
    afterCommit: walSync?.afterCommit,
  };
  const { flush, ...sessions } = createSqliteSessionQueries(ctx);
  const probe = db.prepare("SELECT 1");

  return {
    db,
    ...sessions,
    ...createSqliteTokenQueries(ctx),
    ...createSqliteVelocityQueries(ctx),
    ...createSqliteCardQueries(ctx),
    ping: () => ctx.run(() => void probe.get()),
    async close() {
      if (closed) return;
      flush();
      await walSync?.close();
      await checkpointer.close();
      closed = true;
      db.close();
      lock.release();
    },
  };
}
