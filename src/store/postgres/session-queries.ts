/**
 * Sessions in PostgreSQL (table `sessions`, migration 1). Each insert is one
 * autocommit statement: its promise resolves after COMMIT, with
 * synchronous_commit on, so every instance sees the row at once.
 */
import type { SessionRecord, SessionStore } from "../../core/session-store.js";
import { SESSIONS, type SessionRow, sessionFromRow, sessionValues } from "../rows.js";
import { keyedRows, POSTGRES, type PostgresQuery } from "./dialect.js";

/** The session methods over the PostgreSQL store's query function. */
export function createPostgresSessionQueries(
  query: PostgresQuery,
): Pick<SessionStore, "insertSession" | "findSession"> {
  const sessions = keyedRows(
    query,
    SESSIONS,
    "invoice_id",
    (record: SessionRecord) => sessionValues(record, POSTGRES),
    (row: SessionRow<Date, string[], string>) => sessionFromRow(row, POSTGRES),
  );
  return { insertSession: sessions.insert, findSession: sessions.find };
}
