/**
 * The PostgreSQL store's migrations: the shared steps (../migration.ts) in
 * PostgreSQL's spelling. Each entry runs once, in order, inside one
 * transaction that also records it in `schema_migrations` while holding an
 * advisory lock, so several instances starting at the same moment apply each
 * step exactly once.
 */
import type { Pool, PoolClient, QueryConfig, QueryResultRow } from "pg";
import { type Migration, migrationsFor } from "../migration.js";
import { POSTGRES_SCHEMA } from "./dialect.js";

/** Every migration of the PostgreSQL store, oldest first. */
export const POSTGRES_MIGRATIONS: readonly Migration[] = migrationsFor(POSTGRES_SCHEMA);

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
