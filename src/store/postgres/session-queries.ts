/**
 * Sessions in PostgreSQL (table `sessions`, migration 1). Each insert is one
 * autocommit statement: its promise resolves after COMMIT, with
 * synchronous_commit on, so several instances see the row at once.
 */
import type { SessionStore } from "../../core/session-store.js";
import { insertStatement, SESSIONS, type SessionRow, selectByKey, sessionFromRow, sessionValues } from "../rows.js";
import { POSTGRES, type PostgresQuery } from "./dialect.js";

/** The session methods over the PostgreSQL store's query function. */
export function createPostgresSessionQueries(
  query: PostgresQuery,
): Pick<SessionStore, "insertSession" | "findSession"> {
  const insert = insertStatement(SESSIONS, POSTGRES);
  const select = selectByKey(SESSIONS, "invoice_id", POSTGRES);
  return {
    async insertSession(record) {
      await query(insert, sessionValues(record, POSTGRES));
    },
    async findSession(invoiceId) {
      const { rows } = await query<SessionRow<Date, string[], string> & Record<string, unknown>>(select, [invoiceId]);
      return rows[0] && sessionFromRow(rows[0], POSTGRES);
    },
  };
}
