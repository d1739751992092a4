/**
 * How PostgreSQL holds the values the stores keep differently
 * (src/store/rows.ts): TIMESTAMPTZ (a Date through `pg`), TEXT[] (an array),
 * BIGINT amounts (a string through `pg`; amounts are safe integers by
 * validation).
 */
import type { SchemaDialect } from "../migration.js";
import { type Dialect, insertStatement, selectByKey, type Table } from "../rows.js";

/** PostgreSQL's side of the shared row conversion. */
export const POSTGRES: Dialect<Date, string[], string> = {
  timeColumn: (name) => name,
  parameter: (n) => `$${n}`,
  toTime: (at) => at,
  fromTime: (at) => at,
  toList: (items) => [...items],
  fromList: (items) => items,
  fromBigInt: (text) => Number(text),
};

/** PostgreSQL's spelling of the shared schema steps. */
export const POSTGRES_SCHEMA: SchemaDialect = {
  integer: "BIGINT",
  real: "DOUBLE PRECISION",
  list: "TEXT[]",
  time: (name) => `${name} TIMESTAMPTZ`,
  timeColumn: POSTGRES.timeColumn,
  tableOptions: () => "",
  partialIndex: (condition) => ` WHERE ${condition}`,
};

/** Runs one autocommit statement; rejects with StoreUnavailableError when PostgreSQL is away. */
export type PostgresQuery = <R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  values: unknown[],
) => Promise<{ rows: R[]; rowCount: number | null }>;

/** Insert one row, and find one by its key, for a table whose rows convert through rows.ts. */
export interface KeyedRows<Rec> {
  insert(record: Rec): Promise<void>;
  find(key: string): Promise<Rec | undefined>;
}

/** `KeyedRows` for `table` over the store's query function. */
export function keyedRows<Rec, Row, N extends string>(
  query: PostgresQuery,
  table: Table<N>,
  key: N,
  toValues: (record: Rec) => unknown[],
  fromRow: (row: Row) => Rec,
): KeyedRows<Rec> {
  const insert = insertStatement(table, POSTGRES);
  const select = selectByKey(table, key, POSTGRES);
  return {
    async insert(record) {
      await query(insert, toValues(record));
    },
    async find(value) {
      const { rows } = await query(select, [value]);
      return rows[0] && fromRow(rows[0] as Row);
    },
  };
}

/**
 * Runs `work` in one transaction on one pool client: BEGIN, its statements,
 * COMMIT (durable when it resolves: synchronous_commit is on), ROLLBACK when
 * anything fails. Rejects with StoreUnavailableError when PostgreSQL is away.
 */
export type PostgresTransaction = <T>(work: (query: PostgresQuery) => Promise<T>) => Promise<T>;
