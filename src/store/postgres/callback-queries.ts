/**
 * Final-status callbacks in PostgreSQL (table `gateway_callbacks`, sessions'
 * final status; migration 6). A callback is recorded in one transaction on
 * one client; the duplicate key's unique index decides between instances
 * delivering the same callback at once (INSERT ... ON CONFLICT DO NOTHING
 * waits for the other's commit, then counts a delivery instead).
 */
import type { CallbackStore } from "../../core/callback-store.js";
import { type CallbackRow, callbackFromRow, callbackStatements, recordCallbackSteps } from "../callback-rows.js";
import { POSTGRES, type PostgresQuery, type PostgresTransaction } from "./dialect.js";

type Row = CallbackRow<Date, string>;

const TEXT = callbackStatements(POSTGRES);

/** The callback methods over the PostgreSQL store's query and transaction functions. */
export function createPostgresCallbackQueries(query: PostgresQuery, transaction: PostgresTransaction): CallbackStore {
  return {
    recordCallback: (callback) =>
      transaction(async (q) => {
        const steps = recordCallbackSteps(callback, POSTGRES);
        let next = steps.next([]);
        while (!next.done) {
          const { statement, values } = next.value;
          next = steps.next((await q(TEXT[statement], values)).rows);
        }
        return next.value;
      }),
    async findCallbacks(invoiceId) {
      const { rows } = await query(TEXT.bySession, [invoiceId]);
      return (rows as unknown as Row[]).map((row) => callbackFromRow(row, POSTGRES));
    },
  };
}
