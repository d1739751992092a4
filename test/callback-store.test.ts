/**
 * The CallbackStore contract, run unchanged against both stores: the SQLite
 * file and PostgreSQL (a fresh database for this file). A final-status
 * callback is stored once per duplicate key, a redelivery only counts; a new
 * one finalizes the session it names (client_orderid, else merchant_order,
 * among its endpoint's sessions) unless that session is final already; an
 * unmatched one is kept. On PostgreSQL two instances storing the same
 * callback at once store it exactly once.
 */
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import pg from "pg";
import { expect } from "vitest";
import type { GatewayCallback } from "../src/core/callback-store.js";
import { type SessionRecord, StoreUnavailableError } from "../src/core/session-store.js";
import { sessionRecord } from "./support/session-record.js";
import { describeStores, type StoreKind } from "./support/store-harness.js";

type CallbackRow = { invoice_id: string | null; deliveries: number; params: string };

const RAW = "SELECT invoice_id, deliveries, params FROM gateway_callbacks WHERE client_orderid = ";

/** A raw read of the callbacks table at `location`, for what the store interface does not return (unmatched rows). */
async function callbackRows(kind: StoreKind, location: string, clientOrderId: string): Promise<CallbackRow[]> {
  if (kind === "sqlite") {
    const db = new Database(location, { readonly: true });
    try {
      return db.prepare(`${RAW}?`).all(clientOrderId) as CallbackRow[];
    } finally {
      db.close();
    }
  }
  const pool = new pg.Pool({ connectionString: location, max: 1 });
  try {
    const { rows } = await pool.query(`${RAW}$1`, [clientOrderId]);
    return rows.map((r) => ({ ...r, deliveries: Number(r.deliveries) }));
  } finally {
    await pool.end();
  }
}

/** A session of endpoint 1111 with only the required fields. */
function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  const sparse = { imei: undefined, ipAddresses: [], location: undefined };
  return sessionRecord({ amountCentis: 1015, serialNumber: "SN-CB", ...sparse, ...overrides });
}

let orders = 0;
function callback(overrides: Partial<GatewayCallback> = {}): GatewayCallback {
  const clientOrderId = overrides.clientOrderId ?? randomUUID();
  const orderId = overrides.orderId ?? `90${process.pid}${++orders}`;
  const base = {
    callbackId: randomUUID(),
    endpointId: "1111",
    status: "approved",
    type: "sale",
    orderId,
    clientOrderId,
    merchantOrder: clientOrderId,
    amount: "10.15",
    receivedAt: new Date("2026-01-02T03:10:00.123Z"),
    ...overrides,
  };
  const params: Record<string, string> = {
    status: base.status,
    type: base.type,
    orderid: base.orderId,
    client_orderid: base.clientOrderId,
  };
  if (base.merchantOrder !== undefined) params.merchant_order = base.merchantOrder;
  if (base.amount !== undefined) params.amount = base.amount;
  return { params, ...base };
}

describeStores("callback store", { name: "cp_callbacks" }, (ctx) => {
  const { kind, test } = ctx;
  /** SQLite: a store on a file of its own; PostgreSQL: another instance on the same database. */
  const otherStore = () => ctx.h.open();
  const rawRows = (clientOrderId: string) => callbackRows(kind, ctx.location, clientOrderId);

  test("a new callback is stored and finalizes the session named by client_orderid", async () => {
    const s = session();
    await ctx.store.insertSession(s);
    const cb = callback({ clientOrderId: s.invoiceId, merchantOrder: s.invoiceId });
    expect(await ctx.store.recordCallback(cb)).toEqual({ stored: true, invoiceId: s.invoiceId, finalized: true });
    const stored = await ctx.store.findStoredSession(s.invoiceId);
    expect(stored).toMatchObject({ state: "final", finalStatus: "approved", gatewayOrderId: cb.orderId });
    expect(stored?.finalAt).toEqual(cb.receivedAt);
    expect(await ctx.store.findCallbacks(s.invoiceId)).toEqual([
      { ...cb, invoiceId: s.invoiceId, deliveries: 1, lastReceivedAt: cb.receivedAt },
    ]);
  });

  test("a duplicate only counts a delivery: one row, the session untouched", async () => {
    const s = session();
    await ctx.store.insertSession(s);
    const first = callback({ clientOrderId: s.invoiceId });
    await ctx.store.recordCallback(first);
    const later = new Date(first.receivedAt.getTime() + 60_000);
    const again = { ...first, callbackId: randomUUID(), receivedAt: later, amount: "99.99" };
    expect(await ctx.store.recordCallback(again)).toEqual({ stored: false, invoiceId: s.invoiceId, finalized: false });
    expect(await ctx.store.findCallbacks(s.invoiceId)).toEqual([
      { ...first, invoiceId: s.invoiceId, deliveries: 2, lastReceivedAt: later },
    ]);
    expect((await ctx.store.findStoredSession(s.invoiceId))?.finalAt).toEqual(first.receivedAt);
  });

  test("merchant_order names the session when client_orderid does not; client_orderid wins when both do", async () => {
    const s = session();
    const other = session();
    await Promise.all([ctx.store.insertSession(s), ctx.store.insertSession(other)]);
    const byMerchant = callback({ clientOrderId: `gw-${randomUUID()}`, merchantOrder: s.invoiceId });
    expect(await ctx.store.recordCallback(byMerchant)).toEqual({
      stored: true,
      invoiceId: s.invoiceId,
      finalized: true,
    });

    const a = session();
    await ctx.store.insertSession(a);
    const both = callback({ clientOrderId: a.invoiceId, merchantOrder: other.invoiceId, status: "declined" });
    expect(await ctx.store.recordCallback(both)).toEqual({ stored: true, invoiceId: a.invoiceId, finalized: true });
    expect((await ctx.store.findStoredSession(other.invoiceId))?.state).toBe("initiated");
  });

  test("an unmatched callback is kept with no session; a session of another endpoint is not matched", async () => {
    const cb = callback();
    expect(await ctx.store.recordCallback(cb)).toEqual({ stored: true, invoiceId: undefined, finalized: false });
    const rows = await rawRows(cb.clientOrderId);
    expect(rows).toEqual([{ invoice_id: null, deliveries: 1, params: JSON.stringify(cb.params) }]);
    expect(await ctx.store.recordCallback({ ...cb, callbackId: randomUUID() })).toEqual({
      stored: false,
      invoiceId: undefined,
      finalized: false,
    });
    expect((await rawRows(cb.clientOrderId))[0]?.deliveries).toBe(2);

    const s = session({ endpointId: "2222" });
    await ctx.store.insertSession(s);
    const elsewhere = callback({ clientOrderId: s.invoiceId });
    expect(await ctx.store.recordCallback(elsewhere)).toMatchObject({ stored: true, invoiceId: undefined });
    expect((await ctx.store.findStoredSession(s.invoiceId))?.state).toBe("initiated");
  });

  test("a second, different final status is kept as its own row; the session keeps the first", async () => {
    const s = session();
    await ctx.store.insertSession(s);
    const declined = callback({ clientOrderId: s.invoiceId, status: "declined" });
    await ctx.store.recordCallback(declined);
    const approved = callback({
      clientOrderId: s.invoiceId,
      status: "approved",
      orderId: `${declined.orderId}-2`,
      receivedAt: new Date(declined.receivedAt.getTime() + 1000),
    });
    expect(await ctx.store.recordCallback(approved)).toEqual({
      stored: true,
      invoiceId: s.invoiceId,
      finalized: false,
    });
    expect(await ctx.store.findStoredSession(s.invoiceId)).toMatchObject({
      state: "final",
      finalStatus: "declined",
      gatewayOrderId: declined.orderId,
      finalAt: declined.receivedAt,
    });
    expect((await ctx.store.findCallbacks(s.invoiceId)).map((c) => c.status)).toEqual(["declined", "approved"]);
  });

  if (kind === "postgres") {
    test("two instances storing the same callback at once: exactly one stored, one delivery counted", async () => {
      const peer = otherStore();
      try {
        await peer.ready();
        for (let round = 0; round < 10; round++) {
          const s = session();
          await ctx.store.insertSession(s);
          const cb = callback({ clientOrderId: s.invoiceId });
          const outcomes = await Promise.all([
            ctx.store.recordCallback(cb),
            peer.recordCallback({ ...cb, callbackId: randomUUID() }),
          ]);
          expect(outcomes.map((o) => o.stored).sort()).toEqual([false, true]);
          expect(outcomes.filter((o) => o.finalized)).toHaveLength(1);
          expect(outcomes.map((o) => o.invoiceId)).toEqual([s.invoiceId, s.invoiceId]);
          const rows = await ctx.store.findCallbacks(s.invoiceId);
          expect(rows.map((r) => r.deliveries)).toEqual([2]);
        }
        // Two different final statuses at once: both kept, exactly one sets the session.
        const s = session();
        await ctx.store.insertSession(s);
        const outcomes = await Promise.all([
          ctx.store.recordCallback(callback({ clientOrderId: s.invoiceId, status: "approved" })),
          peer.recordCallback(callback({ clientOrderId: s.invoiceId, status: "declined" })),
        ]);
        expect(outcomes.map((o) => o.finalized).sort()).toEqual([false, true]);
        const winner = outcomes[0]?.finalized ? "approved" : "declined";
        expect((await ctx.store.findStoredSession(s.invoiceId))?.finalStatus).toBe(winner);
        expect(await ctx.store.findCallbacks(s.invoiceId)).toHaveLength(2);
      } finally {
        await peer.close();
      }
    });
  }

  test("a closed store rejects with StoreUnavailableError and stores nothing", async () => {
    const closed = otherStore();
    await closed.ready().catch(() => undefined);
    await closed.close();
    const cb = callback();
    await expect(closed.recordCallback(cb)).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(closed.findCallbacks(cb.clientOrderId)).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(await rawRows(cb.clientOrderId)).toEqual([]);
  });
});
