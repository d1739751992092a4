/**
 * The final-status callback with PostgreSQL behind two server instances on
 * one database (as behind a load balancer): the gateway's retry of a callback
 * reaching both instances at once is stored exactly once, both deliveries
 * are answered 200, one of them as the duplicate; the session is final on
 * both instances; an unmatched callback is kept.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { callbackParams, getCallback, postCallback } from "./support/callback-fixtures.js";
import { checkBody, gatewayToken, initiate, postCheck } from "./support/gateway-fixtures.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { startTestServer, TEST_ENDPOINT_ID, type TestServer } from "./support/test-server.js";

let db: TestDatabase | undefined;
let a: TestServer;
let b: TestServer;

beforeAll(async () => {
  if (!PG_AVAILABLE) return;
  db = await createTestDatabase("cp_callback");
  const config = { store: { postgres: db.url, sqlite: undefined } };
  a = await startTestServer({ config });
  b = await startTestServer({ config });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await db?.drop();
});

async function rows(clientOrderId: string): Promise<{ invoice_id: string | null; deliveries: string }[]> {
  const pool = new pg.Pool({ connectionString: db?.url, max: 1 });
  try {
    const sql = "SELECT invoice_id, deliveries FROM gateway_callbacks WHERE client_orderid = $1";
    return (await pool.query(sql, [clientOrderId])).rows;
  } finally {
    await pool.end();
  }
}

describe("callbacks on PostgreSQL, two instances", () => {
  pgIt("the same callback at both instances at once: stored once, both answered 200, one a duplicate", async () => {
    for (let round = 0; round < 5; round++) {
      const init = await initiate(a, "sale");
      expect((await postCheck(a.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(200);
      const params = callbackParams({ client_orderid: init.invoiceId });
      const answers = await Promise.all([
        getCallback(a.url, TEST_ENDPOINT_ID, params),
        postCallback(b.url, TEST_ENDPOINT_ID, params),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
      expect(answers.map((r) => r.json.duplicate).sort()).toEqual([false, true]);
      expect(await rows(init.invoiceId)).toEqual([{ invoice_id: init.invoiceId, deliveries: "2" }]);
      for (const s of [a, b]) {
        expect(await s.server.store.findStoredSession(init.invoiceId)).toMatchObject({
          state: "final",
          finalStatus: "approved",
          gatewayOrderId: params.orderid,
        });
      }
    }
  });

  pgIt("an unmatched callback is kept with no session and answered 200", async () => {
    const params = callbackParams({ client_orderid: `nobody-${Date.now()}` });
    const res = await getCallback(b.url, TEST_ENDPOINT_ID, params);
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { received: true, duplicate: false } });
    expect(await rows(params.client_orderid as string)).toEqual([{ invoice_id: null, deliveries: "1" }]);
    expect(await b.logLineFor(res.requestId)).toMatchObject({ level: 40, msg: "callback matched no session" });
  });
});
