/**
 * The two migration lists describe one schema. Both lists are applied to real
 * databases (a fresh SQLite file, a fresh PostgreSQL database) and the
 * resulting catalogues are read back and compared in a normalised form:
 * tables, columns with their logical type, nullability and default, primary
 * keys, unique keys, and named indexes. A column or key added to one list only, or
 * a version numbered differently, fails here.
 *
 * Normalisation, where the stores differ on purpose (src/store/rows.ts):
 * SQLite keeps a time as INTEGER milliseconds in `<name>_ms`, PostgreSQL as
 * TIMESTAMPTZ in `<name>`: both are `time <name>`. A list is JSON text in
 * SQLite and TEXT[] in PostgreSQL: both are `text`. INTEGER and BIGINT are
 * `integer`, REAL and DOUBLE PRECISION `real`. A primary-key column counts as
 * NOT NULL (PostgreSQL enforces it; the store never writes NULL keys). A
 * default is compared as written, without PostgreSQL's `::type` cast; the
 * stores' own `schema_migrations` tables (not a shared step) keep theirs apart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect } from "vitest";
import type { Migration } from "../src/store/migration.js";
import { applyPostgresMigrations, POSTGRES_MIGRATIONS } from "../src/store/postgres/migrations.js";
import { applySqliteMigrations, SQLITE_MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";

/** One table, normalised; every list sorted so order in the DDL does not matter. */
interface TableShape {
  columns: string[]; // "name type [not null] [default x]"
  primaryKey: string[];
  uniqueKeys: string[]; // "a,b"
  indexes: string[]; // "name(a,b)" or "name unique(a,b)"
}
type Schema = Record<string, TableShape>;

function normalType(declared: string): string {
  const t = declared.toLowerCase();
  if (t === "timestamp with time zone") return "time";
  if (t === "text" || t === "array") return "text";
  if (t === "integer" || t === "bigint") return "integer";
  if (t === "real" || t === "double precision") return "real";
  return `unknown:${t}`;
}

/** ` default x` for a shared table's column with a default; "" otherwise. */
function normalDefault(table: string, value: string | null): string {
  if (value === null || table === "schema_migrations") return "";
  return ` default ${value.replace(/::[a-z ]+$/i, "")}`;
}

// SQLite's time columns are INTEGER `<name>_ms`; the shared name drops the suffix.
function sqliteColumn(name: string, type: string): { name: string; type: string } {
  if (type.toUpperCase() === "INTEGER" && name.endsWith("_ms")) return { name: name.slice(0, -3), type: "time" };
  return { name, type: normalType(type) };
}

function sqliteSchema(migrations: readonly Migration[]): Schema {
  const dir = mkdtempSync(join(tmpdir(), "cp-schema-"));
  const db = new Database(join(dir, "schema.db"));
  try {
    applySqliteMigrations(db, migrations);
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[];
    const schema: Schema = {};
    for (const table of tables) {
      const rename = new Map<string, string>();
      const cols = db.pragma(`table_xinfo(${table})`) as {
        name: string;
        type: string;
        notnull: number;
        pk: number;
        dflt_value: string | null;
      }[];
      const columns = cols.map((c) => {
        const n = sqliteColumn(c.name, c.type);
        rename.set(c.name, n.name);
        return `${n.name} ${n.type}${c.notnull || c.pk ? " not null" : ""}${normalDefault(table, c.dflt_value)}`;
      });
      const primaryKey = cols
        .filter((c) => c.pk > 0)
        .sort((a, b) => a.pk - b.pk)
        .map((c) => rename.get(c.name) ?? c.name);
      const uniqueKeys: string[] = [];
      const indexes: string[] = [];
      const list = db.pragma(`index_list(${table})`) as { name: string; unique: number; origin: string }[];
      for (const index of list) {
        const on = (db.pragma(`index_info(${index.name})`) as { name: string }[])
          .map((c) => rename.get(c.name) ?? c.name)
          .join(",");
        if (index.origin === "pk") continue; // read from the columns above
        if (index.origin === "u") uniqueKeys.push(on);
        else indexes.push(`${index.name}${index.unique ? " unique" : ""}(${on})`);
      }
      schema[table] = { columns: columns.sort(), primaryKey, uniqueKeys: uniqueKeys.sort(), indexes: indexes.sort() };
    }
    return schema;
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgresSchema(url: string): Promise<Schema> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await applyPostgresMigrations(pool, POSTGRES_MIGRATIONS);
    const { rows: cols } = await pool.query<{ t: string; c: string; type: string; nullable: string; d: string | null }>(
      `SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS nullable, column_default AS d
         FROM information_schema.columns WHERE table_schema = 'public'`,
    );
    // Every index with its columns in order, and whether a constraint owns it.
    const { rows: idx } = await pool.query<{ t: string; name: string; cols: string[]; kind: string }>(
      `SELECT t.relname AS t, i.relname AS name,
              array(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY AS k(n, o)
                      JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.n ORDER BY k.o) AS cols,
              CASE WHEN x.indisprimary THEN 'pk'
                   WHEN c.contype = 'u' THEN 'u'
                   WHEN x.indisunique THEN 'unique' ELSE 'index' END AS kind
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         JOIN pg_namespace s ON s.oid = t.relnamespace
         LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
        WHERE s.nspname = 'public'`,
    );
    const schema: Schema = {};
    for (const c of cols) {
      schema[c.t] ??= { columns: [], primaryKey: [], uniqueKeys: [], indexes: [] };
      schema[c.t]?.columns.push(
        `${c.c} ${normalType(c.type)}${c.nullable === "NO" ? " not null" : ""}${normalDefault(c.t, c.d)}`,
      );
    }
    for (const i of idx) {
      const shape = schema[i.t];
      if (!shape) continue;
      if (i.kind === "pk") shape.primaryKey = i.cols;
      else if (i.kind === "u") shape.uniqueKeys.push(i.cols.join(","));
      else shape.indexes.push(`${i.name}${i.kind === "unique" ? " unique" : ""}(${i.cols.join(",")})`);
    }
    for (const shape of Object.values(schema)) {
      shape.columns.sort();
      shape.uniqueKeys.sort();
      shape.indexes.sort();
    }
    return schema;
  } finally {
    await pool.end();
  }
}

describe("the SQLite and PostgreSQL migration lists describe one schema", () => {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    if (PG_AVAILABLE) db = await createTestDatabase("cp_schema");
  });
  afterAll(async () => {
    await db?.drop();
  });

  pgIt("same versions and names, and the same tables, columns, keys and indexes once applied", async () => {
    const steps = (list: readonly Migration[]) => list.map((m) => `${m.version} ${m.name}`);
    expect(steps(SQLITE_MIGRATIONS)).toEqual(steps(POSTGRES_MIGRATIONS));
    const sqlite = sqliteSchema(SQLITE_MIGRATIONS);
    expect(Object.keys(sqlite).sort()).toEqual([
      "access_tokens",
      "device_cards",
      "gateway_callbacks",
      "schema_migrations",
      "sessions",
      "velocity_events",
    ]);
    expect(sqlite.sessions?.uniqueKeys).toEqual(["nonce"]); // the normalisation sees keys at all
    expect(sqlite.sessions?.columns).toContain("state text not null default 'initiated'"); // and defaults
    expect(await postgresSchema(db?.url ?? "")).toEqual(sqlite);
  });

  pgIt("a change made to one list only is caught", async () => {
    const extra: Migration = { version: 99, name: "one side only", sql: "ALTER TABLE sessions ADD COLUMN note TEXT;" };
    const drifted = sqliteSchema([...SQLITE_MIGRATIONS, extra]);
    const other = await createTestDatabase("cp_schema_drift");
    try {
      expect(await postgresSchema(other.url)).not.toEqual(drifted);
    } finally {
      await other.drop();
    }
  });
});
