/**
 * TopTechPay's final-status callback (`GET /callback/{endpointId}`, or the
 * same parameters as a form POST; shared spec gateway.md) played end to end
 * against a real server with a real SQLite file: the app initiates, the
 * gateway checks, then calls back as it would, its `control` computed here
 * from the spec's recipe. What a merchant notices is asserted: the answer,
 * the session's final status through the store and through SessionService,
 * the stored callback, the metrics, the log line. Every refusal is checked
 * for its status, documented body, and for storing nothing.
 */
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CallbackAnswer,
  callbackCount,
  callbackParams,
  controlOf,
  getCallback,
  getCallbackHttp2,
  postCallback,
  sentControls,
} from "./support/callback-fixtures.js";
import { checkBody, gatewayToken, type Initiated, initiate, postCheck } from "./support/gateway-fixtures.js";
import { startTestServer, TEST_CONTROL_KEY, TEST_ENDPOINT_ID, type TestServer } from "./support/test-server.js";

const API_KEY = "back-office-key-callback-0123456789";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
});
afterAll(async () => {
  await s?.close();
});

/** A sale initiated by the app and checked by the gateway: what a callback finalizes. */
async function checkedSale(): Promise<Initiated> {
  const init = await initiate(s, "sale");
  const checked = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
  expect(checked.status).toBe(200);
  return init;
}

/** The rows of gateway_callbacks with this client_orderid, read from the SQLite file itself. */
function rowsFor(clientOrderId: string): { invoice_id: string | null; deliveries: number; params: string }[] {
  const db = new Database(s.sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare("SELECT invoice_id, deliveries, params FROM gateway_callbacks WHERE client_orderid = ?")
      .all(clientOrderId) as { invoice_id: string | null; deliveries: number; params: string }[];
  } finally {
    db.close();
  }
}

/** SessionService.GetSession over Connect JSON with the back office's API key. */
async function getSession(invoiceId: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${s.url}/toptechpay.session.v1.SessionService/GetSession`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({ invoiceId }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { session: Record<string, unknown> }).session;
}

/** A refusal: its status and documented body, and nothing stored for `clientOrderId`. */
async function expectRefused(answer: CallbackAnswer, status: number, code: string, clientOrderId: string) {
  expect({ status: answer.status, body: answer.json }).toEqual({
    status,
    body: { error: { cause: "INVALID_REQUEST", code, message: expect.any(String) } },
  });
  expect(rowsFor(clientOrderId)).toEqual([]);
  const stored = await s.server.store.findStoredSession(clientOrderId);
  if (stored) expect(stored.state).not.toBe("final");
}

describe("a verified callback", () => {
  it("GET: 200, the callback stored, the session final through the store and SessionService.GetSession", async () => {
    const init = await checkedSale();
    const stored0 = await callbackCount(s.url, "stored");
    const params = callbackParams({ client_orderid: init.invoiceId });
    const res = await getCallback(s.url, TEST_ENDPOINT_ID, params);
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { received: true, duplicate: false } });
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");

    const session = await s.server.store.findStoredSession(init.invoiceId);
    expect(session).toMatchObject({ state: "final", finalStatus: "approved", gatewayOrderId: params.orderid });
    const viaRpc = await getSession(init.invoiceId);
    expect(viaRpc).toMatchObject({ state: "STATE_FINAL", finalStatus: "approved", gatewayOrderId: params.orderid });
    expect(viaRpc.finalAt).toBe(session?.finalAt?.toISOString());

    const { control: _, ...kept } = params;
    const callbacks = await s.server.store.findCallbacks(init.invoiceId);
    expect(callbacks).toMatchObject([
      { endpointId: TEST_ENDPOINT_ID, status: "approved", type: "sale", orderId: params.orderid, deliveries: 1 },
    ]);
    expect(callbacks[0]?.params).toEqual(kept);
    expect(await callbackCount(s.url, "stored")).toBe(stored0 + 1);

    const line = await s.logLineFor(res.requestId);
    expect(line).toMatchObject({
      level: 30,
      operation: "callback",
      path: `/callback/${TEST_ENDPOINT_ID}`,
      status: 200,
      outcome: "ok",
      endpointId: TEST_ENDPOINT_ID,
      invoiceId: init.invoiceId,
      callback: {
        status: "approved",
        type: "sale",
        orderid: params.orderid,
        client_orderid: init.invoiceId,
        duplicate: false,
      },
    });
  });

  it("POST with a form body: the same answer and effect; merchant_order names the session when client_orderid does not", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: `gw-${init.invoiceId}`, merchant_order: init.invoiceId });
    const res = await postCallback(s.url, TEST_ENDPOINT_ID, params, "application/x-www-form-urlencoded; charset=utf-8");
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { received: true, duplicate: false } });
    expect(await s.server.store.findStoredSession(init.invoiceId)).toMatchObject({
      state: "final",
      finalStatus: "approved",
    });
  });

  it("HTTP/2: the same callback is answered and stored", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: init.invoiceId, status: "declined" });
    expect(await getCallbackHttp2(s.url, TEST_ENDPOINT_ID, params)).toEqual({
      status: 200,
      json: { received: true, duplicate: false },
    });
    expect((await s.server.store.findStoredSession(init.invoiceId))?.finalStatus).toBe("declined");
  });

  it("a duplicate is answered 200 each time, stored once, its deliveries counted", async () => {
    const init = await checkedSale();
    const [stored0, duplicate0] = [await callbackCount(s.url, "stored"), await callbackCount(s.url, "duplicate")];
    const params = callbackParams({ client_orderid: init.invoiceId });
    const first = await getCallback(s.url, TEST_ENDPOINT_ID, params);
    const finalAt = (await s.server.store.findStoredSession(init.invoiceId))?.finalAt;
    const second = await postCallback(s.url, TEST_ENDPOINT_ID, params);
    expect([first.json, second.json]).toEqual([
      { received: true, duplicate: false },
      { received: true, duplicate: true },
    ]);
    expect(rowsFor(init.invoiceId)).toMatchObject([{ invoice_id: init.invoiceId, deliveries: 2 }]);
    expect((await s.server.store.findStoredSession(init.invoiceId))?.finalAt).toEqual(finalAt);
    expect(await callbackCount(s.url, "stored")).toBe(stored0 + 1);
    expect(await callbackCount(s.url, "duplicate")).toBe(duplicate0 + 1);
    expect(await s.logLineFor(second.requestId)).toMatchObject({ level: 30, callback: { duplicate: true } });
  });

  it("a later, different final status is stored too, but the session keeps its first", async () => {
    const init = await checkedSale();
    await getCallback(s.url, TEST_ENDPOINT_ID, callbackParams({ client_orderid: init.invoiceId, status: "declined" }));
    const later = await getCallback(s.url, TEST_ENDPOINT_ID, callbackParams({ client_orderid: init.invoiceId }));
    expect(later.json).toEqual({ received: true, duplicate: false });
    expect((await s.server.store.findStoredSession(init.invoiceId))?.finalStatus).toBe("declined");
    expect((await s.server.store.findCallbacks(init.invoiceId)).map((c) => c.status)).toEqual(["declined", "approved"]);
    expect(await s.logLineFor(later.requestId)).toMatchObject({ level: 40, invoiceId: init.invoiceId });
  });

  it("an upper-case hex control is taken too", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: init.invoiceId });
    const res = await getCallback(s.url, TEST_ENDPOINT_ID, {
      ...params,
      control: (params.control ?? "").toUpperCase(),
    });
    expect(res.status).toBe(200);
  });

  it("an unmatched callback is kept with no session, answered 200, logged as a warning and counted", async () => {
    const unmatched0 = await callbackCount(s.url, "unmatched");
    const params = callbackParams({ client_orderid: `nobody-${Date.now()}` });
    const res = await getCallback(s.url, TEST_ENDPOINT_ID, params);
    expect({ status: res.status, json: res.json }).toEqual({ status: 200, json: { received: true, duplicate: false } });
    const { control: _, ...kept } = params;
    expect(rowsFor(params.client_orderid as string)).toEqual([
      { invoice_id: null, deliveries: 1, params: JSON.stringify(kept) },
    ]);
    const line = await s.logLineFor(res.requestId);
    expect(line).toMatchObject({ level: 40, msg: "callback matched no session", operation: "callback", status: 200 });
    expect(line?.invoiceId).toBeUndefined();
    expect(await callbackCount(s.url, "unmatched")).toBe(unmatched0 + 1);
  });
});

describe("refused callbacks store nothing", () => {
  it("a wrong, missing, or dash-less-key control: 403 CALLBACK_CONTROL_INVALID", async () => {
    const init = await checkedSale();
    const id = init.invoiceId;
    const good = callbackParams({ client_orderid: id });
    const wrong = { ...good, control: controlOf({ ...good, status: "declined" }) };
    const { control: _, ...missing } = good;
    const dashless = { ...good, control: controlOf(good, TEST_CONTROL_KEY.replaceAll("-", "")) };
    const otherStatus = { ...good, status: "declined" };
    const refused: Record<string, string>[] = [wrong, missing, dashless, otherStatus, { ...good, control: "" }];
    for (const params of refused) {
      sentControls.add(params.control ?? "");
      await expectRefused(await getCallback(s.url, TEST_ENDPOINT_ID, params), 403, "CALLBACK_CONTROL_INVALID", id);
    }
    // A correct one afterwards is still the first: nothing was stored before.
    expect((await getCallback(s.url, TEST_ENDPOINT_ID, good)).json).toEqual({ received: true, duplicate: false });
  });

  it("an unknown endpoint: 404 ENDPOINT_UNKNOWN", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: init.invoiceId });
    await expectRefused(await getCallback(s.url, "9999", params), 404, "ENDPOINT_UNKNOWN", init.invoiceId);
  });

  it("a missing or empty status, type, orderid or client_orderid (control verified): 400 CALLBACK_PARAM_MISSING", async () => {
    const init = await checkedSale();
    for (const name of ["status", "type", "orderid", "client_orderid"]) {
      for (const value of [undefined, ""]) {
        const params = callbackParams({
          client_orderid: init.invoiceId,
          merchant_order: init.invoiceId,
          [name]: value,
        });
        const res = await getCallback(s.url, TEST_ENDPOINT_ID, params);
        await expectRefused(res, 400, "CALLBACK_PARAM_MISSING", init.invoiceId);
        expect(res.json.error.message).toContain(name);
      }
    }
    // The control is checked first: without a verifying one the same callback is a 403.
    const unsigned = callbackParams({ client_orderid: init.invoiceId, status: undefined, control: "0".repeat(40) });
    const res = await getCallback(s.url, TEST_ENDPOINT_ID, unsigned);
    await expectRefused(res, 403, "CALLBACK_CONTROL_INVALID", init.invoiceId);
  });

  it("a repeated parameter, in the query or across query and form body: 400 CALLBACK_PARAM_REPEATED", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: init.invoiceId });
    const query = `${new URLSearchParams(params)}&status=declined`;
    await expectRefused(
      await getCallback(s.url, TEST_ENDPOINT_ID, query),
      400,
      "CALLBACK_PARAM_REPEATED",
      init.invoiceId,
    );
    const res = await fetch(`${s.url}/callback/${TEST_ENDPOINT_ID}?status=approved`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(params).toString(),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("CALLBACK_PARAM_REPEATED");
    expect(rowsFor(init.invoiceId)).toEqual([]);
  });

  it("an oversized value or too many parameters: 400 CALLBACK_PARAM_TOO_LONG", async () => {
    const init = await checkedSale();
    const id = init.invoiceId;
    const long = callbackParams({ client_orderid: id, amount: "1".repeat(257) });
    await expectRefused(await getCallback(s.url, TEST_ENDPOINT_ID, long), 400, "CALLBACK_PARAM_TOO_LONG", id);
    const extra = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`x${i}`, "1"]));
    const many = { ...callbackParams({ client_orderid: id }), ...extra };
    await expectRefused(await postCallback(s.url, TEST_ENDPOINT_ID, many), 400, "CALLBACK_PARAM_TOO_LONG", id);
    // 256 characters is still fine.
    const edge = callbackParams({ client_orderid: id, amount: "1".repeat(256) });
    expect((await getCallback(s.url, TEST_ENDPOINT_ID, edge)).status).toBe(200);
  });

  it("another content type: 415 CONTENT_TYPE_UNSUPPORTED; another method: 405 with Allow: GET, POST", async () => {
    const init = await checkedSale();
    const params = callbackParams({ client_orderid: init.invoiceId });
    const json = await postCallback(s.url, TEST_ENDPOINT_ID, JSON.stringify(params), "application/json");
    await expectRefused(json, 415, "CONTENT_TYPE_UNSUPPORTED", init.invoiceId);
    const put = await postCallback(s.url, TEST_ENDPOINT_ID, params, undefined, "PUT");
    await expectRefused(put, 405, "METHOD_NOT_ALLOWED", init.invoiceId);
    expect(put.headers.get("allow")).toBe("GET, POST");
  });

  it("from a peer outside gateway.allowFrom: 403 PEER_NOT_ALLOWED", async () => {
    const guarded = await startTestServer({ config: { gateway: { allowFrom: ["192.0.2.0/24"] } } });
    try {
      const params = callbackParams({});
      const res = await getCallback(guarded.url, TEST_ENDPOINT_ID, params);
      expect({ status: res.status, code: res.json.error.code }).toEqual({ status: 403, code: "PEER_NOT_ALLOWED" });
      const db = new Database(guarded.sqlitePath, { readonly: true });
      expect(db.prepare("SELECT count(*) AS n FROM gateway_callbacks").get()).toEqual({ n: 0 });
      db.close();
    } finally {
      await guarded.close();
    }
  });
});

describe("logs", () => {
  it("no log line holds a control value, the control key, or a callback's query string", () => {
    expect(sentControls.size).toBeGreaterThan(10);
    const lines = s.logLines.map((l) => JSON.stringify(l));
    const callbackLines = s.logLines.filter((l) => l.operation === "callback");
    expect(callbackLines.length).toBeGreaterThan(10);
    const secrets = [TEST_CONTROL_KEY, TEST_CONTROL_KEY.replaceAll("-", ""), ...sentControls].filter((x) => x !== "");
    for (const secret of secrets) {
      for (const spelling of [secret, secret.toLowerCase(), secret.toUpperCase()]) {
        expect(lines.filter((l) => l.includes(spelling))).toEqual([]);
      }
    }
    expect(callbackLines.filter((l) => String(l.path).includes("?") || "control" in l)).toEqual([]);
  });
});
