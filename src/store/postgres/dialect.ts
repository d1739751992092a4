/**
 * How PostgreSQL holds the values the stores keep differently
 * (src/store/rows.ts): TIMESTAMPTZ (a Date through `pg`), TEXT[] (an array),
 * BIGINT amounts (a string through `pg`; amounts are safe integers by
 * validation).
 */
import type { Dialect } from "../rows.js";

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

/** Runs one autocommit statement; rejects with StoreUnavailableError when PostgreSQL is away. */
export type PostgresQuery = <R extends Record<string, unknown> = Record<string, unknown>>(
  text: string,
  values: unknown[],
) => Promise<{ rows: R[]; rowCount: number | null }>;
