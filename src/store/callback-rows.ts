/**
 * The `gateway_callbacks` table (migration 6) and its row <-> record
 * conversion, written once for both stores (see rows.ts), plus the
 * statements recordCallback runs in its one transaction, which both dialects
 * spell alike but for their parameter markers.
 */
import type { CallbackOutcome, GatewayCallback, StoredCallback } from "../core/callback-store.js";
import { type Dialect, insertStatement, selectAll, type Table } from "./rows.js";

/** One row of `gateway_callbacks`, as the shared SELECT returns it. */
export interface CallbackRow<Time, BigInt> {
  callback_id: string;
  endpoint_id: string;
  status: string;
  type: string;
  orderid: string;
  client_orderid: string;
  merchant_order: string | null;
  amount: string | null;
  /** Every parameter but `control`, as a JSON object of strings. */
  params: string;
  invoice_id: string | null;
  received_at: Time;
  last_received_at: Time;
  deliveries: BigInt;
}

/** The `gateway_callbacks` table; `deliveries` starts at its default, 1. */
export const GATEWAY_CALLBACKS: Table<keyof CallbackRow<unknown, unknown>> = {
  name: "gateway_callbacks",
  columns: [
    "callback_id",
    "endpoint_id",
    "status",
    "type",
    "orderid",
    "client_orderid",
    "merchant_order",
    "amount",
    "params",
    "invoice_id",
    "received_at",
    "last_received_at",
  ],
  later: ["deliveries"],
  times: ["received_at", "last_received_at"],
};

/** A callback's values in `GATEWAY_CALLBACKS.columns` order, with the session it matched. */
export function callbackValues<T, L, B>(c: GatewayCallback, invoiceId: string | undefined, d: Dialect<T, L, B>) {
  return [
    c.callbackId,
    c.endpointId,
    c.status,
    c.type,
    c.orderId,
    c.clientOrderId,
    c.merchantOrder ?? null,
    c.amount ?? null,
    JSON.stringify(c.params),
    invoiceId ?? null,
    d.toTime(c.receivedAt),
    d.toTime(c.receivedAt),
  ];
}

/** The callback a row holds. */
export function callbackFromRow<T, L, B>(row: CallbackRow<T, B>, d: Dialect<T, L, B>): StoredCallback {
  return {
    callbackId: row.callback_id,
    endpointId: row.endpoint_id,
    status: row.status,
    type: row.type,
    orderId: row.orderid,
    clientOrderId: row.client_orderid,
    merchantOrder: row.merchant_order ?? undefined,
    amount: row.amount ?? undefined,
    params: JSON.parse(row.params) as Record<string, string>,
    receivedAt: d.fromTime(row.received_at),
    invoiceId: row.invoice_id ?? undefined,
    deliveries: d.fromBigInt(row.deliveries),
    lastReceivedAt: d.fromTime(row.last_received_at),
  };
}

/** The statements of recordCallback and findCallbacks in one dialect's spelling. */
export interface CallbackStatements {
  /** The session of endpoint p1 with invoice id p2 or p3 (p2 first; p4 = p2): `invoice_id`. */
  readonly matchSession: string;
  /** Inserts a callback (callbackValues) unless its duplicate key is stored; returns a row only when new. */
  readonly insertNew: string;
  /** Counts a delivery of the stored callback with key p2..p5 at time p1; returns its `invoice_id`. */
  readonly countDelivery: string;
  /** Sets the final status (p1), order id (p2), time (p3) of session p4 unless final; a row when it did. */
  readonly finalize: string;
  /** A session's callbacks, oldest first. */
  readonly bySession: string;
}

/** The statements for dialect `d`. */
export function callbackStatements(d: Dialect<unknown, unknown, unknown>): CallbackStatements {
  const p = (n: number) => d.parameter(n);
  const at = d.timeColumn("last_received_at");
  return {
    // p4 repeats p2 (SQLite's `?` cannot be named twice): the client_orderid
    // match wins when both name a session.
    matchSession: `SELECT invoice_id FROM sessions
      WHERE endpoint_id = ${p(1)} AND invoice_id IN (${p(2)}, ${p(3)})
      ORDER BY CASE WHEN invoice_id = ${p(4)} THEN 0 ELSE 1 END LIMIT 1`,
    // The duplicate key is the unique index gateway_callbacks_duplicate_key:
    // of two inserts racing on it, the second waits for the first to commit
    // and then does nothing (PostgreSQL), or runs after it (SQLite's one writer).
    insertNew: `${insertStatement(GATEWAY_CALLBACKS, d)}
      ON CONFLICT (status, type, orderid, client_orderid) DO NOTHING RETURNING callback_id`,
    countDelivery: `UPDATE gateway_callbacks SET deliveries = deliveries + 1, ${at} = ${p(1)}
      WHERE status = ${p(2)} AND type = ${p(3)} AND orderid = ${p(4)} AND client_orderid = ${p(5)}
      RETURNING invoice_id`,
    finalize: `UPDATE sessions SET state = 'final', final_status = ${p(1)}, gateway_order_id = ${p(2)},
      ${d.timeColumn("final_at")} = ${p(3)} WHERE invoice_id = ${p(4)} AND final_status IS NULL RETURNING invoice_id`,
    bySession: `${selectAll(GATEWAY_CALLBACKS, d)} WHERE invoice_id = ${p(1)}
      ORDER BY ${d.timeColumn("received_at")}, callback_id`,
  };
}

/** One statement of recordCallback, by its name in CallbackStatements. */
export interface CallbackStep {
  readonly statement: Exclude<keyof CallbackStatements, "bySession">;
  readonly values: unknown[];
}

/**
 * recordCallback's logic, written once: yields each statement to run and
 * receives its rows. The SQLite store drives it synchronously inside one
 * transaction, the PostgreSQL store awaits each step on one client between
 * BEGIN and COMMIT.
 */
export function* recordCallbackSteps<T, L, B>(
  c: GatewayCallback,
  d: Dialect<T, L, B>,
): Generator<CallbackStep, CallbackOutcome, readonly Record<string, unknown>[]> {
  const merchant = c.merchantOrder ?? c.clientOrderId;
  const [match] = yield {
    statement: "matchSession",
    values: [c.endpointId, c.clientOrderId, merchant, c.clientOrderId],
  };
  const invoiceId = match ? (match.invoice_id as string) : undefined;
  const inserted = yield { statement: "insertNew", values: callbackValues(c, invoiceId, d) };
  if (inserted.length === 0) {
    const [known] = yield {
      statement: "countDelivery",
      values: [d.toTime(c.receivedAt), c.status, c.type, c.orderId, c.clientOrderId],
    };
    return { stored: false, invoiceId: (known?.invoice_id as string | null) ?? undefined, finalized: false };
  }
  if (invoiceId === undefined) return { stored: true, invoiceId, finalized: false };
  // A session already final keeps its first final status (README, "Final-status callback"):
  // finalize changes no row then, here or when another callback finalized it meanwhile.
  const finalized = yield {
    statement: "finalize",
    values: [c.status, c.orderId, d.toTime(c.receivedAt), invoiceId],
  };
  return { stored: true, invoiceId, finalized: finalized.length > 0 };
}
