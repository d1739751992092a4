/**
 * SessionService.WatchSession on the SQLite store, with a stock grpc-js
 * client: the session as it is, then each change (checked after a JSON
 * check, final after the gateway's final-status callback), the stream's end,
 * its refusals, and that a watch releases everything it holds however it
 * ends and never takes a payment's place.
 *
 * The main server polls no session within a test's time, so what its
 * watches see they heard announced by the check or the callback; only the
 * poll's own test writes a final status straight into the database (an
 * announcement that never came).
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendFinalStatus } from "./support/callback-fixtures.js";
import { checkBody, gatewayToken, initiate, postCheck, unknownInvoice } from "./support/gateway-fixtures.js";
import { decodeStatusDetails, grpcJsGatewayClients } from "./support/grpc-js-client.js";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { bearer, finalInSqlite, gaugesReach, watchGauges } from "./support/watch-fixtures.js";

const API_KEY = "back-office-key-0123456789abcdef";
const WATCH_PATH = "/toptechpay.session.v1.SessionService/WatchSession";
const RECEIVED = { status: 200, json: { received: true, duplicate: false } };

let s: TestServer;
let c: ReturnType<typeof grpcJsGatewayClients>;
beforeAll(async () => {
  // No poll within a test's time: a change a watch sees was announced.
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] }, limits: { watchPollMs: 600_000 } } });
  c = grpcJsGatewayClients(s.port);
});
afterAll(async () => {
  c?.close();
  await s?.close();
});

describe("WatchSession streams a session's changes", () => {
  it("streams initiated, checked, then final after the final-status callback, and ends OK", async () => {
    const init = await initiate(s, "sale");
    const w = c.watch(init.invoiceId, bearer(API_KEY));
    expect(await w.received(1)).toMatchObject({ invoiceId: init.invoiceId, state: "STATE_INITIATED" });
    const check = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
    expect(check.status).toBe(200);
    const checked = await w.received(2);
    expect(checked).toMatchObject({ invoiceId: init.invoiceId, state: "STATE_CHECKED" });
    expect(checked.checkedAt).toBeDefined();
    const { params, answer } = await sendFinalStatus(s.url, init.invoiceId, { status: "approved" });
    expect(answer).toMatchObject(RECEIVED);
    const final = await w.received(3);
    expect(final).toMatchObject({
      invoiceId: init.invoiceId,
      state: "STATE_FINAL",
      finalStatus: "approved",
      gatewayOrderId: params.orderid,
    });
    expect(final.finalAt).toBeDefined();
    expect(await w.ended).toMatchObject({ code: grpc.status.OK });
    expect(w.messages).toHaveLength(3);
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
  });

  it("a repeated check (same token) sends nothing new", async () => {
    const init = await initiate(s, "verification");
    const w = c.watch(init.invoiceId, bearer(API_KEY));
    await w.received(1);
    const body = checkBody(init, gatewayToken());
    expect((await postCheck(s.url, "verification", init.invoiceId, body)).status).toBe(200);
    await w.received(2);
    expect((await postCheck(s.url, "verification", init.invoiceId, body)).status).toBe(200);
    const { answer } = await sendFinalStatus(s.url, init.invoiceId, { status: "declined", type: "verification" });
    expect(answer).toMatchObject(RECEIVED);
    expect((await w.ended).code).toBe(grpc.status.OK);
    expect(w.messages.map((m) => m.state)).toEqual(["STATE_INITIATED", "STATE_CHECKED", "STATE_FINAL"]);
    expect(w.messages[2]).toMatchObject({ finalStatus: "declined" });
  });

  it("the check announces its first bind only, not a repeat nor a refusal", async () => {
    const init = await initiate(s, "sale");
    let heard = 0;
    const stop = s.server.store.changes.listen(init.invoiceId, () => heard++);
    try {
      const body = checkBody(init, gatewayToken());
      expect((await postCheck(s.url, "sale", init.invoiceId, body)).status).toBe(200);
      await settle();
      expect(heard).toBe(1);
      expect((await postCheck(s.url, "sale", init.invoiceId, body)).status).toBe(200);
      expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(409);
      await settle();
      expect(heard).toBe(1);
    } finally {
      stop();
    }
  });

  it("the callback announces the final status once: not its repeat, nor a second status", async () => {
    const init = await initiate(s, "sale");
    expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(200);
    // The check's own announcement is past before listening starts.
    await settle();
    let heard = 0;
    const stop = s.server.store.changes.listen(init.invoiceId, () => heard++);
    const first = await sendFinalStatus(s.url, init.invoiceId, { status: "approved" });
    try {
      expect(first.answer).toMatchObject(RECEIVED);
      await settle();
      expect(heard).toBe(1);
      // The gateway's retry (same parameters: same duplicate key), then a different status for the same session.
      const again = await sendFinalStatus(s.url, init.invoiceId, first.params);
      expect(again.answer).toMatchObject({ status: 200, json: { received: true, duplicate: true } });
      const other = await sendFinalStatus(s.url, init.invoiceId, { status: "declined" });
      expect(other.answer).toMatchObject(RECEIVED);
      await settle();
      expect(heard).toBe(1);
    } finally {
      stop();
    }
    // The session kept its first final status: a watch sees that one and ends.
    const w = c.watch(init.invoiceId, bearer(API_KEY));
    expect((await w.ended).code).toBe(grpc.status.OK);
    expect(w.messages).toEqual([
      expect.objectContaining({ state: "STATE_FINAL", finalStatus: "approved", gatewayOrderId: first.params.orderid }),
    ]);
  });

  it("a session already final: one message, then OK", async () => {
    const init = await initiate(s, "sale");
    const { params, answer } = await sendFinalStatus(s.url, init.invoiceId);
    expect(answer).toMatchObject(RECEIVED);
    const w = c.watch(init.invoiceId, bearer(API_KEY));
    expect((await w.ended).code).toBe(grpc.status.OK);
    expect(w.messages).toHaveLength(1);
    expect(w.messages[0]).toMatchObject({
      state: "STATE_FINAL",
      finalStatus: "approved",
      gatewayOrderId: params.orderid,
    });
  });

  it("a final status whose announcement was lost (written straight into the database) is caught by the poll", async () => {
    const polled = await startTestServer({
      config: { auth: { apiKeys: [{ key: API_KEY }] }, limits: { watchPollMs: 200 } },
    });
    const pc = grpcJsGatewayClients(polled.port);
    try {
      const init = await initiate(polled, "sale");
      const w = pc.watch(init.invoiceId, bearer(API_KEY));
      await w.received(1);
      // Deliberately not the callback: its store write without the announcement it would make,
      // as when a NOTIFY is lost; only the poll can find it.
      finalInSqlite(polled.sqlitePath, init.invoiceId);
      expect(await w.received(2)).toMatchObject({ state: "STATE_FINAL" });
      expect((await w.ended).code).toBe(grpc.status.OK);
    } finally {
      pc.close();
      await polled.close();
    }
  });
});

/** Time for an announcement made after an answer to reach its listeners. */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe("WatchSession refusals", () => {
  it("no or a wrong API key: UNAUTHENTICATED API_KEY_INVALID with ErrorDetail, nothing held", async () => {
    const init = await initiate(s, "sale");
    for (const metadata of [new grpc.Metadata(), bearer("wrong-key-0123456789abcdef")]) {
      const w = c.watch(init.invoiceId, metadata);
      const end = await w.ended;
      expect(end).toMatchObject({ code: grpc.status.UNAUTHENTICATED, detail: { code: "API_KEY_INVALID" } });
      expect(w.messages).toHaveLength(0);
    }
    expect(await watchGauges(s.url)).toEqual({ open: 0, listeners: 0 });
  });

  it("an unknown invoice: NOT_FOUND SESSION_NOT_FOUND, nothing held", async () => {
    const w = c.watch(unknownInvoice(), bearer(API_KEY));
    expect(await w.ended).toMatchObject({
      code: grpc.status.NOT_FOUND,
      detail: { cause: "INVALID_REQUEST", code: "SESSION_NOT_FOUND" },
    });
    expect(w.messages).toHaveLength(0);
    expect(await watchGauges(s.url)).toEqual({ open: 0, listeners: 0 });
  });
});

describe("WatchSession's limits", () => {
  let t: TestServer;
  let tc: ReturnType<typeof grpcJsGatewayClients>;
  beforeAll(async () => {
    t = await startTestServer({
      config: {
        auth: { apiKeys: [{ key: API_KEY }] },
        // One payment at a time, a short request deadline, two watches of at most 2 s.
        limits: { maxInFlight: 1, requestTimeoutMs: 300, maxWatches: 2, watchMaxSeconds: 2 },
      },
    });
    tc = grpcJsGatewayClients(t.port);
  });
  afterAll(async () => {
    tc?.close();
    await t?.close();
  });

  it("open watches take no admission place; past maxWatches RESOURCE_EXHAUSTED; the cap ends them", async () => {
    const init = await initiate(t, "sale");
    const a = tc.watch(init.invoiceId, bearer(API_KEY));
    const b = tc.watch(init.invoiceId, bearer(API_KEY));
    await Promise.all([a.received(1), b.received(1)]);
    const third = tc.watch(init.invoiceId, bearer(API_KEY));
    expect(await third.ended).toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
      detail: { cause: "SERVER_UNAVAILABLE", code: "WATCHES_EXHAUSTED" },
    });
    // maxInFlight is 1 and two watches are open: a sale and a check still go through.
    const other = await initiate(t, "sale");
    expect((await postCheck(t.url, "sale", other.invoiceId, checkBody(other, gatewayToken()))).status).toBe(200);
    expect(await watchGauges(t.url)).toEqual({ open: 2, listeners: 2 });
    // Past the 300 ms request deadline they are still open; the 2 s cap ends them.
    for (const w of [a, b]) {
      expect(await w.ended).toMatchObject({
        code: grpc.status.DEADLINE_EXCEEDED,
        detail: { code: "WATCH_EXPIRED" },
      });
      expect(w.messages).toHaveLength(1);
    }
    expect(await gaugesReach(t.url, 0)).toEqual({ open: 0, listeners: 0 });
  });

  it("a caller that reads nothing (flow-control window 0) is cut after the cap and its backstop", async () => {
    const init = await initiate(t, "sale");
    const { session, stream } = rawWatchCall(t.url, init.invoiceId, { settings: { initialWindowSize: 0 } });
    const closed = new Promise<number>((resolve) => stream.once("close", () => resolve(stream.rstCode ?? -1)));
    expect(await gaugesReach(t.url, 1)).toEqual({ open: 1, listeners: 1 });
    // 2 s cap, 2 s backstop, 1 s to flush: the server resets the stream it cannot finish.
    expect(await closed).toBe(http2.constants.NGHTTP2_CANCEL);
    expect(await gaugesReach(t.url, 0)).toEqual({ open: 0, listeners: 0 });
    session.close();
  });

  it("the caller's deadline ends the watch with DEADLINE_EXCEEDED", async () => {
    const init = await initiate(t, "sale");
    const w = tc.watch(init.invoiceId, bearer(API_KEY), { deadline: Date.now() + 800 });
    await w.received(1);
    // grpc-js ends the call itself at its deadline; the server's own answer is checked below.
    expect(await w.ended).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
    expect(await gaugesReach(t.url, 0)).toEqual({ open: 0, listeners: 0 });
  });
});

describe("the caller's deadline as the server answers it", () => {
  it("grpc-timeout ends the stream with DEADLINE_EXCEEDED and its ErrorDetail after the first message", async () => {
    const init = await initiate(s, "sale");
    const { session, stream } = rawWatchCall(s.url, init.invoiceId, {}, { "grpc-timeout": "700m" });
    try {
      let data = Buffer.alloc(0);
      stream.on("data", (d: Buffer) => {
        data = Buffer.concat([data, d]);
      });
      const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once("trailers", resolve));
      // One message: the session as it was.
      expect(data.readUInt32BE(1)).toBe(data.length - 5);
      expect(trailers["grpc-status"]).toBe(String(grpc.status.DEADLINE_EXCEEDED));
      const bin = Buffer.from(String(trailers["grpc-status-details-bin"]), "base64");
      expect(decodeStatusDetails(bin).details).toEqual([
        {
          cause: "SERVER_UNAVAILABLE",
          code: "DEADLINE_EXCEEDED",
          message: "The request did not finish within the caller's deadline.",
        },
      ]);
    } finally {
      session.close();
    }
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
  });
});

/** A gRPC request frame of WatchSessionRequest{invoice_id}. */
function grpcFrame(invoiceId: string): Buffer {
  const message = Buffer.from([0x0a, invoiceId.length, ...Buffer.from(invoiceId)]);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
}

/** A WatchSession call over raw node:http2, its request sent whole. */
function rawWatchCall(
  url: string,
  invoiceId: string,
  options: http2.ClientSessionOptions = {},
  headers: http2.OutgoingHttpHeaders = {},
) {
  const session = http2.connect(url, options);
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": WATCH_PATH,
    "content-type": "application/grpc",
    te: "trailers",
    authorization: `Bearer ${API_KEY}`,
    ...headers,
  });
  stream.on("error", () => undefined);
  stream.end(grpcFrame(invoiceId));
  return { session, stream };
}

describe("a watch releases what it holds however it ends", () => {
  it("client cancel (grpc-js call.cancel())", async () => {
    const init = await initiate(s, "sale");
    const w = c.watch(init.invoiceId, bearer(API_KEY));
    await w.received(1);
    expect(await watchGauges(s.url)).toEqual({ open: 1, listeners: 1 });
    w.stream.cancel();
    expect((await w.ended).code).toBe(grpc.status.CANCELLED);
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
  });

  /** A raw node:http2 WatchSession stream, read until its first message. */
  async function rawWatch(invoiceId: string) {
    // Our own socket under the session, so the test can cut it.
    const socket = net.connect(s.port, "127.0.0.1");
    socket.on("error", () => undefined);
    const { session, stream } = rawWatchCall(s.url, invoiceId, { createConnection: () => socket });
    await new Promise<void>((resolve, reject) => {
      stream.once("data", () => resolve());
      stream.once("close", () => reject(new Error("closed before a message")));
    });
    return { session, stream, socket };
  }

  it("HTTP/2 stream reset (RST_STREAM CANCEL)", async () => {
    const init = await initiate(s, "sale");
    const { session, stream } = await rawWatch(init.invoiceId);
    expect(await watchGauges(s.url)).toEqual({ open: 1, listeners: 1 });
    stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
    session.close();
  });

  it("HTTP/2 stream reset while the caller reads nothing (flow-control window 0)", async () => {
    const init = await initiate(s, "sale");
    const { session, stream } = rawWatchCall(s.url, init.invoiceId, { settings: { initialWindowSize: 0 } });
    // The watch is open and its first message cannot be delivered.
    expect(await gaugesReach(s.url, 1)).toEqual({ open: 1, listeners: 1 });
    await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
    session.close();
  });

  it("connection lost (socket destroyed)", async () => {
    const init = await initiate(s, "sale");
    const { socket } = await rawWatch(init.invoiceId);
    expect(await watchGauges(s.url)).toEqual({ open: 1, listeners: 1 });
    socket.destroy();
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
  });

  it("server shutdown: the watch ends UNAVAILABLE SHUTTING_DOWN at once, shutdown does not wait for it", async () => {
    const own = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
    const oc = grpcJsGatewayClients(own.port);
    try {
      const init = await initiate(own, "sale");
      const w = oc.watch(init.invoiceId, bearer(API_KEY));
      await w.received(1);
      const started = Date.now();
      // A grace of 30 s: a watch that held the drain would keep close() that long.
      await own.server.close(30_000);
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await w.ended).toMatchObject({
        code: grpc.status.UNAVAILABLE,
        detail: { cause: "SERVER_UNAVAILABLE", code: "SHUTTING_DOWN" },
      });
    } finally {
      oc.close();
      await own.close().catch(() => undefined);
    }
  });
});
