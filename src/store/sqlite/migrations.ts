/**
 * The SQLite store's migrations: the shared steps (../migration.ts) in
 * SQLite's spelling. Each runs once, in order, inside one transaction with
 * its row in `schema_migrations`.
 */
import type Database from "better-sqlite3";
import { type Migration, migrationsFor } from "../migration.js";
import { SQLITE_SCHEMA } from "./dialect.js";

/** Every migration of the SQLite store, oldest first. */
export const SQLITE_MIGRATIONS: readonly Migration[] = migrationsFor(SQLITE_SCHEMA);

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
