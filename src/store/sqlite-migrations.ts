/**
 * Versioned schema of the SQLite store. Each entry runs once, in order, inside
 * one transaction with its row in `schema_migrations`. Never edit an applied
 * entry: append a new one.
 */

/** One schema step. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

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
