/**
 * How SQLite holds the values the stores keep differently (src/store/rows.ts):
 * times as integer milliseconds in `<name>_ms` columns (STRICT tables have no
 * date type), lists as JSON text, amounts as INTEGER (a JS number).
 */
import type Database from "better-sqlite3";
import type { SchemaDialect } from "../migration.js";
import type { Dialect } from "../rows.js";

/** SQLite's side of the shared row conversion. */
export const SQLITE: Dialect<number, string, number> = {
  timeColumn: (name) => `${name}_ms`,
  parameter: () => "?",
  toTime: (at) => at.getTime(),
  fromTime: (ms) => new Date(ms),
  toList: (items) => JSON.stringify(items),
  fromList: (text) => JSON.parse(text) as string[],
  fromBigInt: (n) => n,
};

/** SQLite's spelling of the shared schema steps: STRICT tables, times in milliseconds. */
export const SQLITE_SCHEMA: SchemaDialect = {
  integer: "INTEGER",
  real: "REAL",
  list: "TEXT",
  time: (name) => `${name}_ms INTEGER`,
  timeColumn: SQLITE.timeColumn,
  tableOptions: (keyed) => (keyed ? " STRICT, WITHOUT ROWID" : " STRICT"),
  partialIndex: () => "",
};

/** What the SQLite query modules borrow from the store that opened the file. */
export interface SqliteContext {
  readonly db: Database.Database;
  /** True once the store is closed; calls then reject as unavailable. */
  isClosed(): boolean;
  /**
   * Runs one synchronous piece of work on the connection: rejects as
   * unavailable when closed, and with the classified error when it throws.
   */
  run<T>(work: () => T): Promise<T>;
  /** Durable mode: resolves once every commit so far is on disk. */
  readonly afterCommit?: (() => Promise<void>) | undefined;
}
