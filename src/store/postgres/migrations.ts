/**
 * Versioned schema of the PostgreSQL store, numbered like the SQLite one
 * (sqlite/migrations.ts) so version N means the same tables in both;
 * test/schema-parity.test.ts checks that both lists build the same tables.
 * Each entry runs once, in order, inside one transaction that also records it
 * in `schema_migrations` while holding an advisory lock, so several instances
 * starting at the same moment apply each step exactly once. Never edit an
 * applied entry: append a new one.
 */
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from "pg";
import type { Migration } from "../migration.js";

/** Every migration of the PostgreSQL store, oldest first. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "sessions",
    sql: `
      CREATE TABLE sessions (
        invoice_id        TEXT             PRIMARY KEY,
        operation         TEXT             NOT NULL CHECK (operation IN ('sale', 'verification')),
        endpoint_id       TEXT             NOT NULL,
        nonce             TEXT             NOT NULL UNIQUE,
        signature         TEXT             NOT NULL,
        amount_centis     BIGINT,
        currency          TEXT             NOT NULL,
        serial_number     TEXT             NOT NULL,
        imei              TEXT,
        ip_addresses      TEXT[]           NOT NULL,
        lat               DOUBLE PRECISION,
        lng               DOUBLE PRECISION,
        access_token_hash TEXT             NOT NULL,
        created_at        TIMESTAMPTZ      NOT NULL
      );
      CREATE INDEX sessions_serial_created ON sessions (serial_number, created_at);
    `,
  },
  {
    version: 2,
    name: "access_tokens",
    sql: `
      CREATE TABLE access_tokens (
        token_hash    TEXT        PRIMARY KEY,
        serial_number TEXT        NOT NULL,
        issued_at     TIMESTAMPTZ NOT NULL,
        expires_at    TIMESTAMPTZ NOT NULL,
        revoked_at    TIMESTAMPTZ
      );
      CREATE INDEX access_tokens_serial ON access_tokens (serial_number) WHERE revoked_at IS NULL;
    `,
  },
  {
    version: 3,
    name: "velocity_events",
    // One row per attempt per (dimension, key); pruned past the longest window.
    sql: `
      CREATE TABLE velocity_events (
        dimension TEXT        NOT NULL CHECK (dimension IN ('device', 'token', 'ip')),
        key       TEXT        NOT NULL,
        at        TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX velocity_events_key_at ON velocity_events (dimension, key, at);
      CREATE INDEX velocity_events_at ON velocity_events (at);
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

// Any constant works as long as every instance uses the same one; this one is
// "cp-srv" in ASCII so it is recognisable in pg_locks.
const MIGRATION_LOCK_KEY = 0x63702d737276;
const MIGRATION_TIMEOUT_MS = 300_000;

/**
 * Applies every migration not yet recorded. The whole run is one transaction
 * holding a transaction-scoped advisory lock: a second instance waits on the
 * lock, then sees the versions the first one recorded and applies nothing.
 * Resolves with the versions this call applied.
 */
export async function applyPostgresMigrations(
  pool: Pool,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<number[]> {
  const client: PoolClient = await pool.connect();
  // The pool's short statement timeout is for requests; a migration (or the
  // wait for another instance's migration) may take longer.
  // (pg reads a per-query query_timeout; its type definitions do not list it.)
  const q = <R extends QueryResultRow>(text: string, values: unknown[] = []) =>
    client.query<R>({ text, values, query_timeout: MIGRATION_TIMEOUT_MS } as QueryConfig);
  let failed: unknown;
  try {
    await q("BEGIN");
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await q("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY]);
    await q(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    const { rows } = await q<{ version: number }>("SELECT version FROM schema_migrations");
    const done = new Set(rows.map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await q(m.sql);
      await q("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [m.version, m.name]);
      applied.push(m.version);
    }
    await q("COMMIT");
    return applied;
  } catch (e) {
    failed = e;
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    // A client that failed mid-transaction is not put back for reuse.
    client.release(failed instanceof Error ? failed : undefined);
  }
}
