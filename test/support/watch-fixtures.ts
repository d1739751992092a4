/**
 * Helpers of the WatchSession tests: the API key metadata, the watch gauges
 * read from /metrics as an operator sees them, and a session made final by a
 * direct write of its final columns with no announcement (a lost
 * notification, for the poll's test; otherwise a test sends the real
 * final-status callback, callback-fixtures.ts sendFinalStatus).
 */
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";

/** `authorization: Bearer <key>` as grpc-js metadata. */
export function bearer(key: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set("authorization", `Bearer ${key}`);
  return m;
}

/** cp_watches_open and cp_session_change_listeners as /metrics shows them. */
export async function watchGauges(url: string): Promise<{ open: number; listeners: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return { open: read("cp_watches_open"), listeners: read("cp_session_change_listeners") };
}

/** Waits until both watch gauges read `value` (they are read at scrape time); the last reading. */
export async function gaugesReach(url: string, value: number, withinMs = 5000) {
  const until = Date.now() + withinMs;
  for (;;) {
    const g = await watchGauges(url);
    if ((g.open === value && g.listeners === value) || Date.now() > until) return g;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Sets a session's final columns in the SQLite file as the callback's store write does, announcing nothing. */
export function finalInSqlite(path: string, invoiceId: string, status = "approved"): void {
  const db = new Database(path);
  try {
    db.pragma("busy_timeout = 5000");
    db.prepare(
      "UPDATE sessions SET state = 'final', final_status = ?, gateway_order_id = ?, final_at_ms = ? WHERE invoice_id = ?",
    ).run(status, "ORDER-1", Date.now(), invoiceId);
  } finally {
    db.close();
  }
}
