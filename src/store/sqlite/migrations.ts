/**
 * Versioned schema of the SQLite store, numbered like the PostgreSQL one
 * (postgres/migrations.ts); test/schema-parity.test.ts checks that both lists
 * build the same tables. Each entry runs once, in order, inside one
 * transaction with its row in `schema_migrations`. Never edit an applied
 * entry: append a new one.
 */
import type Database from "better-sqlite3";
import type { Migration } from "../migration.js";

/** Every migration of the SQLite store, oldest first. */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "sessions",
    sql: `
      CREATE TABLE sessions (
        invoice_id        TEXT    PRIMARY KEY,
        operation         TEXT    NOT NULL CHECK (operation IN ('sale', 'verification')),
        endpoint_id       TEXT    NOT NULL,
        nonce             TEXT    NOT NULL UNIQUE,
        signature         TEXT    NOT NULL,
        amount_centis     INTEGER,
        currency          TEXT    NOT NULL,
        serial_number     TEXT    NOT NULL,
        imei              TEXT,
        ip_addresses      TEXT    NOT NULL,
        lat               REAL,
        lng               REAL,
        access_token_hash TEXT    NOT NULL,
        created_at_ms     INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX sessions_serial_created ON sessions (serial_number, created_at_ms);
    `,
  },
  {
    version: 2,
    name: "access_tokens",
    // Only the token's SHA-256 is kept; revoked_at_ms is NULL while valid.
    sql: `
      CREATE TABLE access_tokens (
        token_hash    TEXT    PRIMARY KEY,
        serial_number TEXT    NOT NULL,
        issued_at_ms  INTEGER NOT NULL,
        expires_at_ms INTEGER NOT NULL,
        revoked_at_ms INTEGER
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX access_tokens_serial ON access_tokens (serial_number);
    `,
  },
  {
    version: 3,
    name: "velocity_events",
    // One row per attempt per (dimension, key) for the velocity filter; rows
    // older than the longest window are pruned, so the table stays small.
    sql: `
      CREATE TABLE velocity_events (
        dimension TEXT    NOT NULL CHECK (dimension IN ('device', 'token', 'ip')),
        key       TEXT    NOT NULL,
        at_ms     INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX velocity_events_key_at ON velocity_events (dimension, key, at_ms);
      CREATE INDEX velocity_events_at ON velocity_events (at_ms);
    `,
  },
  {
    version: 4,
    name: "drop sessions_serial_created",
    // No query reads sessions by device (velocity has its own table), and
    // every index is one more B-tree written by each initiate.
    sql: "DROP INDEX IF EXISTS sessions_serial_created;",
  },
];

/** Applies every migration not yet recorded in the file. */
export function applySqliteMigrations(
  db: Database.Database,
  migrations: readonly Migration[] = SQLITE_MIGRATIONS,
): void {
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
    // IMMEDIATE takes the write lock first: a tool writing the file at the
    // same moment cannot interleave with a step.
    db.transaction(() => {
      const again = db.prepare("SELECT 1 FROM schema_migrations WHERE version = ?").get(m.version);
      if (again) return;
      db.exec(m.sql);
      record.run(m.version, m.name, Date.now());
    }).immediate();
  }
}
