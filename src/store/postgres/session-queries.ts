/**
 * Sessions in PostgreSQL (table `sessions`, migrations 1 and 5). Each write is
 * one autocommit statement: its promise resolves after COMMIT, with
 * synchronous_commit on, so it is durable and every instance sees it at once.
 */
import { GatewayTokenInUseError, type SessionCheckStore, type SessionQueryStore } from "../../core/session-state.js";
import type { SessionRecord, SessionStore } from "../../core/session-store.js";
import {
  SESSIONS,
  type SessionRow,
  selectByKey,
  sessionFromRow,
  sessionValues,
  storedSessionFromRow,
} from "../rows.js";
import { listSessionsStatement } from "../session-listing.js";
import { isUniqueViolation } from "../unavailable.js";
import { keyedRows, POSTGRES, type PostgresQuery } from "./dialect.js";

type Row = SessionRow<Date, string[], string>;

// Binds only an unbound session. Of two binds racing on one row, the second
// waits for the first's row lock, then re-reads the row (READ COMMITTED) and
// finds it bound: exactly one wins, on any number of instances.
const BIND = `UPDATE sessions SET state = CASE state WHEN 'initiated' THEN 'checked' ELSE state END,
    checked_at = $2, gateway_token_hash = $3
  WHERE invoice_id = $1 AND gateway_token_hash IS NULL RETURNING gateway_token_hash`;
// A separate statement, so it reads a snapshot taken after the UPDATE's wait:
// the winner's hash, committed.
const BOUND = "SELECT gateway_token_hash FROM sessions WHERE invoice_id = $1";

/** The session methods over the PostgreSQL store's query function. */
export function createPostgresSessionQueries(
  query: PostgresQuery,
): Pick<SessionStore, "insertSession" | "findSession"> & SessionCheckStore & SessionQueryStore {
  const sessions = keyedRows(
    query,
    SESSIONS,
    "invoice_id",
    (record: SessionRecord) => sessionValues(record, POSTGRES),
    (row: Row) => sessionFromRow(row, POSTGRES),
  );
  const selectOne = selectByKey(SESSIONS, "invoice_id", POSTGRES);
  const selectByToken = selectByKey(SESSIONS, "gateway_token_hash", POSTGRES);
  return {
    insertSession: sessions.insert,
    findSession: sessions.find,
    async findStoredSession(invoiceId) {
      const { rows } = await query(selectOne, [invoiceId]);
      const row = rows[0] as Row | undefined;
      return row && storedSessionFromRow(row, POSTGRES);
    },
    async bindGatewayToken(invoiceId, tokenHash, at) {
      type Bound = { gateway_token_hash: string | null };
      const bound = await query<Bound>(BIND, [invoiceId, at, tokenHash]).catch((e: unknown) => {
        throw isUniqueViolation("postgres", e) ? new GatewayTokenInUseError() : e;
      });
      const row = bound.rows[0] ?? (await query<Bound>(BOUND, [invoiceId])).rows[0];
      return row?.gateway_token_hash ?? undefined;
    },
    async findSessionByGatewayToken(tokenHash) {
      const { rows } = await query(selectByToken, [tokenHash]);
      const row = rows[0] as Row | undefined;
      return row && storedSessionFromRow(row, POSTGRES);
    },
    async listSessions(q) {
      const { text, values } = listSessionsStatement(q, POSTGRES);
      const { rows } = await query(text, values);
      return (rows as unknown as Row[]).map((row) => storedSessionFromRow(row, POSTGRES));
    },
  };
}
