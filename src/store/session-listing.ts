/**
 * The back office's listing of sessions (SessionQueryStore.listSessions) as
 * one statement, written once for both stores: the filters that are set,
 * newest first in (created_at, invoice_id) order, the page cursor as a row
 * comparison, and a limit. Migration 5's indexes serve it: sessions_created
 * for the whole table, sessions_serial_created for one device.
 *
 * Times travel as the dialect's time (integer milliseconds in SQLite, a Date
 * in PostgreSQL); every stored time comes from a JavaScript Date, so both
 * stores compare at millisecond precision.
 */
import type { SessionQuery } from "../core/session-state.js";
import { type Dialect, SESSIONS, selectAll } from "./rows.js";

/** A statement and its parameters, in order. */
export interface Statement {
  readonly text: string;
  readonly values: unknown[];
}

/** The listing statement for `q` in `d`'s spelling. */
export function listSessionsStatement<T, L, B>(q: SessionQuery, d: Dialect<T, L, B>): Statement {
  const created = d.timeColumn("created_at");
  const values: unknown[] = [];
  const param = (value: unknown) => {
    values.push(value);
    return d.parameter(values.length);
  };
  const where: string[] = [];
  if (q.serialNumber !== undefined) where.push(`serial_number = ${param(q.serialNumber)}`);
  if (q.state !== undefined) where.push(`state = ${param(q.state)}`);
  if (q.createdFrom !== undefined) where.push(`${created} >= ${param(d.toTime(q.createdFrom))}`);
  if (q.createdBefore !== undefined) where.push(`${created} < ${param(d.toTime(q.createdBefore))}`);
  if (q.after !== undefined) {
    where.push(`(${created}, invoice_id) < (${param(d.toTime(q.after.createdAt))}, ${param(q.after.invoiceId)})`);
  }
  const filter = where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`;
  const limit = param(Math.max(0, Math.trunc(q.limit)));
  return {
    text: `${selectAll(SESSIONS, d)}${filter} ORDER BY ${created} DESC, invoice_id DESC LIMIT ${limit}`,
    values,
  };
}
