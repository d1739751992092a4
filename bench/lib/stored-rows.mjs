/**
 * Reads a target's SQLite file from the bench's side: whether the sanity
 * request's session is really stored, and the row counts after a run. The
 * same queries serve this server's file and the peers' (both name the table
 * `sessions` and keep the bound gateway token in `gateway_token_hash`).
 */
import Database from "better-sqlite3";

/** Row counts of a target's database after its run (the bench reads them; works for this server's file too). */
export function countSessions(path) {
  const db = new Database(path, { fileMustExist: true });
  try {
    const row = db.prepare("SELECT count(*) AS sessions, count(gateway_token_hash) AS checked FROM sessions").get();
    return { sessions: row.sessions, checked: row.checked };
  } finally {
    db.close();
  }
}

/** Whether a session with this invoice id is in a target's database (the sanity check). */
export function hasSession(path, invoiceId) {
  const db = new Database(path, { fileMustExist: true });
  try {
    return db.prepare("SELECT 1 FROM sessions WHERE invoice_id = ?").get(invoiceId) !== undefined;
  } finally {
    db.close();
  }
}
