/**
 * The embedded store: one SQLite file in WAL mode. Concurrent inserts that
 * arrive in the same turn of the event loop share one transaction (group
 * commit), so one fsync acknowledges many sessions; no caller is answered
 * before the transaction holding its row has committed.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import type { Logger } from "pino";
import type { AccessTokenStore } from "../core/access-token-store.js";
import type { SessionRecord, SessionStore } from "../core/session-store.js";
import { StoreUnavailableError } from "../core/session-store.js";
import type { VelocityStore } from "../core/velocity-store.js";
import { startCheckpointer } from "./sqlite-checkpointer.js";
import { type Migration, SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
import { createSqliteTokenQueries } from "./sqlite-token-queries.js";
import { createSqliteVelocityQueries } from "./sqlite-velocity-queries.js";
import { createWalSync } from "./sqlite-wal-sync.js";

/**
 * `full`: nothing is acknowledged before it is on disk. The connection runs
 * with synchronous=NORMAL and each acknowledged write waits for an fdatasync
 * of the WAL holding its frames (see sqlite-wal-sync.ts): the flush
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
  /** How long a write waits for a lock held by another process. */
  readonly busyTimeoutMs?: number;
  /** Where the store reports trouble that no request sees. */
  readonly logger?: Logger | undefined;
}

interface PendingInsert {
  readonly record: SessionRecord;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

// SQLite result codes that mean "cannot reach or write the storage now",
// as opposed to a bug or a constraint violation.
const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|READONLY|CANTOPEN|NOMEM|PROTOCOL|NOTADB|CORRUPT)/;

function classify(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  if (typeof code === "string" && UNAVAILABLE_CODES.test(code)) {
    return new StoreUnavailableError(`sqlite: ${code}`, { cause: e });
  }
  return e;
}

function applyMigrations(db: Database.Database, migrations: readonly Migration[]): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms INTEGER NOT NULL) STRICT`);
  const applied = new Set(
    db
      .prepare("SELECT version FROM schema_migrations")
      .pluck()
      .all()
      .map((v) => Number(v)),
  );
  const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)");
  for (const m of migrations) {
    if (applied.has(m.version)) continue;
    // IMMEDIATE takes the write lock first, so two processes opening the same
    // new file cannot both apply a step.
    db.transaction(() => {
      const again = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version);
      if (again) return;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }).immediate();
  }
}

interface SessionRow {
  invoice_id: string;
  operation: "sale" | "verification";
  endpoint_id: string;
  nonce: string;
  signature: string;
  amount_centis: number | null;
  currency: string;
  serial_number: string;
  imei: string | null;
  ip_addresses: string;
  lat: number | null;
  lng: number | null;
  access_token_hash: string;
  created_at_ms: number;
}

function fromRow(row: SessionRow): SessionRecord {
  return {
    invoiceId: row.invoice_id,
    operation: row.operation,
    endpointId: row.endpoint_id,
    nonce: row.nonce,
    signature: row.signature,
    amountCentis: row.amount_centis ?? undefined,
    currency: row.currency,
    serialNumber: row.serial_number,
    imei: row.imei ?? undefined,
    ipAddresses: JSON.parse(row.ip_addresses) as string[],
    location: row.lat === null || row.lng === null ? undefined : { lat: row.lat, lng: row.lng },
    accessTokenHash: row.access_token_hash,
    createdAt: new Date(row.created_at_ms),
  };
}

/** Opens (creating if needed) the SQLite file, migrates it, and returns the store. */
export function openSqliteStore(
  options: SqliteStoreOptions,
): SessionStore & AccessTokenStore & VelocityStore & { readonly db: Database.Database } {
  mkdirSync(dirname(options.path), { recursive: true });
  const db = new Database(options.path);
  db.pragma("journal_mode = WAL");
  // NORMAL in both modes: durable mode syncs the WAL itself before it
  // acknowledges (below). Never prepare a "PRAGMA synchronous" statement:
  // SQLite applies that pragma when the statement is compiled, not when run.
  db.pragma("synchronous = NORMAL");
  db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 2000}`);
  applyMigrations(db, SQLITE_MIGRATIONS);
  const checkpointer = startCheckpointer(db, options.path, { logger: options.logger });

  const insert = db.prepare(`INSERT INTO sessions (invoice_id, operation, endpoint_id, nonce, signature,
      amount_centis, currency, serial_number, imei, ip_addresses, lat, lng, access_token_hash, created_at_ms)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
  const selectOne = db.prepare("SELECT * FROM sessions WHERE invoice_id = ?");
  const insertRow = (r: SessionRecord) =>
    insert.run(
      r.invoiceId,
      r.operation,
      r.endpointId,
      r.nonce,
      r.signature,
      r.amountCentis ?? null,
      r.currency,
      r.serialNumber,
      r.imei ?? null,
      JSON.stringify(r.ipAddresses),
      r.location?.lat ?? null,
      r.location?.lng ?? null,
      r.accessTokenHash,
      r.createdAt.getTime(),
    );
  const insertBatch = db.transaction((batch: readonly PendingInsert[]) => {
    for (const p of batch) insertRow(p.record);
  });

  let pending: PendingInsert[] = [];
  let scheduled = false;
  let closed = false;

  const walSync = options.durability === "normal" ? undefined : createWalSync(options.path);

  // Commits one batch; returns the inserts whose rows are committed.
  function commit(batch: PendingInsert[]): PendingInsert[] {
    try {
      insertBatch(batch);
      return batch;
    } catch (batchError) {
      if (batch.length === 1) {
        batch[0]?.reject(classify(batchError));
        return [];
      }
      // One bad row must not fail its neighbours: retry each on its own.
      return batch.filter((p) => {
        try {
          insertRow(p.record);
          return true;
        } catch (e) {
          p.reject(classify(e));
          return false;
        }
      });
    }
  }

  function flush(): void {
    scheduled = false;
    const batch = pending;
    pending = [];
    if (batch.length === 0) return;
    const committed = commit(batch);
    if (!walSync) {
      for (const p of committed) p.resolve();
      return;
    }
    walSync.afterCommit().then(
      () => {
        for (const p of committed) p.resolve();
      },
      (e: unknown) => {
        for (const p of committed) p.reject(e);
      },
    );
  }

  return {
    db,
    ...createSqliteTokenQueries({ db, isClosed: () => closed, classify, afterCommit: walSync?.afterCommit }),
    ...createSqliteVelocityQueries({ db, isClosed: () => closed, classify }),
    insertSession(record) {
      if (closed) return Promise.reject(new StoreUnavailableError("sqlite: store is closed"));
      return new Promise<void>((resolve, reject) => {
        pending.push({ record, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    async findSession(invoiceId) {
      if (closed) throw new StoreUnavailableError("sqlite: store is closed");
      const row = selectOne.get(invoiceId) as SessionRow | undefined;
      return row && fromRow(row);
    },
    async ping() {
      if (closed) throw new StoreUnavailableError("sqlite: store is closed");
      try {
        db.prepare("SELECT 1").get();
      } catch (e) {
        throw classify(e);
      }
    },
    async close() {
      if (closed) return;
      flush();
      await walSync?.close();
      await checkpointer.close();
      closed = true;
      db.close();
    },
  };
}
