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
];
