/**
 * The app's own cards: `POST /cards/list-cards` and `POST /cards/delete-card`,
 * and DeviceCardService over Connect (plain fetch) and gRPC (a stock
 * @grpc/grpc-js client from proto/), against a real server on SQLite. Cards
 * are stored through the store's saveCard, as the card mapping notification
 * stores them. The app sees only live cards of its own device, oldest first,
 * never TopTechPay's references; a delete is durable and keeps the row; every
 * refusal answers the documented error and changes nothing.
 */
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceCard } from "../src/core/card-store.js";
import {
  type AppTransport,
  appCall,
  type CardCall,
  type CardOutcome,
  cardsOf,
  deleteBody,
  expectNoReference,
  listBody,
  seedCard,
} from "./support/card-fixtures.js";
import { type GrpcFailure, grpcJsCardClients } from "./support/grpc-js-client.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let s: TestServer;
let c: ReturnType<typeof grpcJsCardClients>;
beforeAll(async () => {
  s = await startTestServer();
  c = grpcJsCardClients(s.port);
});
afterAll(async () => {
  c?.close();
  await s?.close();
});

let devices = 0;
/** A fresh device with its own token. */
async function device(): Promise<{ serial: string; token: string }> {
  devices++;
  const serial = `SN-CARDS-${process.pid}-${devices}`;
  return { serial, token: await s.issueToken(serial) };
}

const GRPC_METHOD: Record<CardCall, string> = { list: "ListDeviceCards", delete: "DeleteDeviceCard" };
type Transport = AppTransport | "grpc";
const TRANSPORTS: readonly Transport[] = ["json", "connect", "grpc"];

/** The app's call over any transport, in CardOutcome's shape (gRPC: status is the gRPC code). */
async function callVia(via: Transport, call: CardCall, body: object): Promise<CardOutcome> {
  if (via !== "grpc") return appCall(s.url, via, call, body);
  const out = (await c.call(c.deviceCards, GRPC_METHOD[call], body)) as
    | { ok: true; value: Record<string, unknown> }
    | ({ ok: false } & GrpcFailure);
  if (out.ok) return { ok: true, status: 0, answer: out.value, text: JSON.stringify(out.value), requestId: "" };
  expect(out.detail, out.details).toBeDefined();
  expect(out.statusCode).toBe(out.code);
  const detail = out.detail as { cause: string; code: string; message: string };
  expect(detail.message).toBe(decodeURIComponent(out.details));
  return { ok: false, status: out.code, ...detail, text: out.details, requestId: "" };
}

/** The gRPC status each HTTP status of ours maps to. */
const GRPC_OF_HTTP: Record<number, number> = {
  400: grpc.status.INVALID_ARGUMENT,
  401: grpc.status.UNAUTHENTICATED,
  404: grpc.status.NOT_FOUND,
};

/** Expects the same refusal over every transport, and the store unchanged for `serials`. */
async function expectRefusedEverywhere(
  call: CardCall,
  body: object,
  want: { status: number; code: string; message?: string | RegExp },
  serials: string[],
): Promise<void> {
  const before = await cardsOf(s.server.store, ...serials);
  const messages = new Set<string>();
  for (const via of TRANSPORTS) {
    const out = await callVia(via, call, body);
    expect(out.ok, `${via} ${out.text}`).toBe(false);
    if (out.ok) continue;
    expect({ via, code: out.code, cause: out.cause }).toEqual({ via, code: want.code, cause: "INVALID_REQUEST" });
    const status = via === "grpc" ? GRPC_OF_HTTP[want.status] : want.status;
    expect(out.status, `${via} status`).toBe(status);
    if (want.message !== undefined) expect(out.message).toMatch(want.message);
    messages.add(out.message);
  }
  expect([...messages], "one message on every transport").toHaveLength(1);
  expect(await cardsOf(s.server.store, ...serials)).toEqual(before);
}

/** The JSON path's exact answer for a list of cards (proto3 JSON's timestamp form). */
function listed(cards: DeviceCard[]) {
  return {
    cards: cards.map((k) => ({
      clientCardId: k.clientCardId,
      ...(k.bin === undefined ? {} : { bin: k.bin }),
      createdAt: k.createdAt.toISOString().replace(".000Z", "Z"),
    })),
  };
}

/** A google.protobuf.Timestamp as grpc-js decodes it (int64 as text; a zero field left out). */
function seconds(d: Date) {
  const ms = d.getTime();
  return { seconds: String(Math.floor(ms / 1000)), ...(ms % 1000 === 0 ? {} : { nanos: (ms % 1000) * 1e6 }) };
}

describe("listing the device's cards", () => {
  it("answers the live cards of this device only, oldest first, never TopTechPay's references", async () => {
    const a = await device();
    const b = await device();
    const t = (s: string) => new Date(`2026-03-04T05:06:${s}Z`);
    // Stored out of order; one without a BIN, one at a whole second.
    const second = await seedCard(s.server.store, a.serial, { createdAt: t("07.500"), bin: undefined });
    const first = await seedCard(s.server.store, a.serial, { createdAt: t("07.250") });
    const third = await seedCard(s.server.store, a.serial, { createdAt: t("09.000"), bin: 55001234 });
    const gone = await seedCard(s.server.store, a.serial, { createdAt: t("01.000") });
    await s.server.store.deleteCard(gone.clientCardId, new Date());
    const foreign = await seedCard(s.server.store, b.serial, { createdAt: t("00.001") });
    const all = [first, second, third, gone, foreign];

    const json = await appCall(s.url, "json", "list", listBody(a.serial, a.token));
    expect(json.ok && json.answer).toEqual(listed([first, second, third]));
    expect(json.text).toContain('"createdAt":"2026-03-04T05:06:09Z"');
    expectNoReference(json.text, all);

    // DeviceCardService answers the same JSON over Connect.
    const connect = await appCall(s.url, "connect", "list", listBody(a.serial, a.token));
    expect(connect.ok && connect.answer).toEqual(listed([first, second, third]));
    expectNoReference(connect.text, all);

    const viaGrpc = await callVia("grpc", "list", listBody(a.serial, a.token));
    expect(viaGrpc.ok && viaGrpc.answer).toEqual({
      cards: [
        { clientCardId: first.clientCardId, bin: 411111, createdAt: seconds(first.createdAt) },
        { clientCardId: second.clientCardId, createdAt: seconds(second.createdAt) },
        { clientCardId: third.clientCardId, bin: 55001234, createdAt: seconds(third.createdAt) },
      ],
    });
  });

  it('answers {"cards":[]} on the JSON path for a device without cards (proto3 JSON\'s {} over Connect)', async () => {
    const a = await device();
    const json = await appCall(s.url, "json", "list", listBody(a.serial, a.token));
    expect(json.ok && json.text).toBe('{"cards":[]}');
    const connect = await appCall(s.url, "connect", "list", listBody(a.serial, a.token));
    expect(connect.ok && connect.answer).toEqual({});
    expect(await callVia("grpc", "list", listBody(a.serial, a.token))).toMatchObject({ ok: true, answer: {} });
  });
});

describe("deleting one of the device's cards", () => {
  it.each(TRANSPORTS)(
    "over %s: answers the card with deletedAt, keeps the row, and the card is gone from the list",
    async (via) => {
      const a = await device();
      const keep = await seedCard(s.server.store, a.serial, { createdAt: new Date("2026-01-01T00:00:00.100Z") });
      const drop = await seedCard(s.server.store, a.serial, { createdAt: new Date("2026-01-01T00:00:00.200Z") });
      const before = Date.now();
      const out = await callVia(via, "delete", deleteBody(a.serial, a.token, drop.clientCardId));
      expect(out.ok, out.text).toBe(true);
      expectNoReference(out.text, [keep, drop]);

      const stored = await s.server.store.findCard(drop.clientCardId);
      const deletedAt = stored?.deletedAt as Date;
      expect(deletedAt.getTime()).toBeGreaterThanOrEqual(before - 5);
      // The row is kept, whole, with its deletion time: a deleted card is refused, never reused.
      expect(stored).toEqual({ ...drop, deletedAt });
      const db = new Database(s.sqlitePath, { readonly: true });
      const row = db
        .prepare("SELECT server_card_id, deleted_at_ms FROM device_cards WHERE client_card_id = ?")
        .get(drop.clientCardId);
      db.close();
      expect(row).toEqual({ server_card_id: drop.serverCardId, deleted_at_ms: deletedAt.getTime() });

      const card = (out.ok && out.answer.card) as Record<string, unknown>;
      if (via === "grpc") {
        expect(card).toEqual({ clientCardId: drop.clientCardId, deletedAt: seconds(deletedAt) });
      } else {
        expect(card).toEqual({
          clientCardId: drop.clientCardId,
          deletedAt: deletedAt.toISOString().replace(".000Z", "Z"),
        });
      }
      const list = await appCall(s.url, "json", "list", listBody(a.serial, a.token));
      expect(list.ok && list.answer).toEqual(listed([keep]));
    },
  );

  it("logs the operation, device and card, never the token or TopTechPay's reference", async () => {
    const a = await device();
    const card = await seedCard(s.server.store, a.serial);
    const deleted = await appCall(s.url, "json", "delete", deleteBody(a.serial, a.token, card.clientCardId));
    const again = await appCall(s.url, "connect", "delete", deleteBody(a.serial, a.token, card.clientCardId));
    const listedOut = await appCall(s.url, "json", "list", listBody(a.serial, a.token));
    expect(await s.logLineFor(deleted.requestId)).toMatchObject({
      operation: "delete-card",
      protocol: "json",
      status: 200,
      outcome: "ok",
      serialNumber: a.serial,
      clientCardId: card.clientCardId,
    });
    expect(await s.logLineFor(again.requestId)).toMatchObject({
      operation: "delete-card",
      protocol: "connect",
      code: "CARD_NOT_FOUND",
      serialNumber: a.serial,
      clientCardId: card.clientCardId,
      reason: expect.stringMatching(/^card deleted at /),
    });
    expect(await s.logLineFor(listedOut.requestId)).toMatchObject({
      operation: "list-cards",
      serialNumber: a.serial,
    });
    const logs = JSON.stringify(s.logLines);
    expect(logs).not.toContain(a.token);
    expect(logs).not.toContain(card.serverCardId);
  });
});

describe("refusals: the documented error, and nothing changed", () => {
  it("a GET is 405 with Allow: POST, another content type 415; metrics count every card call under its label", async () => {
    const a = await device();
    const get = await fetch(`${s.url}/cards/list-cards`);
    expect({ status: get.status, allow: get.headers.get("allow") }).toEqual({ status: 405, allow: "POST" });
    expect(await get.json()).toMatchObject({ error: { code: "METHOD_NOT_ALLOWED" } });
    const text = await fetch(`${s.url}/cards/delete-card`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify(deleteBody(a.serial, a.token, "some-card")),
    });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ error: { code: "CONTENT_TYPE_UNSUPPORTED" } });

    await appCall(s.url, "json", "list", listBody(a.serial, a.token));
    // A body connect's decoding refuses is counted under the method's label too.
    await appCall(s.url, "connect", "list", { consumer: { device: { serialNumber: 5 } } });
    await callVia("grpc", "delete", deleteBody(a.serial, a.token, "unknown-card-id"));
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const count = (labels: string[]) =>
      metrics
        .split("\n")
        .filter((l) => l.startsWith("cp_requests_total{") && labels.every((p) => l.includes(p)))
        .map((l) => Number(l.split(" ").pop()))
        .reduce((x, y) => x + y, 0);
    expect(count(['operation="list-cards"', 'protocol="json"', 'outcome="ok"'])).toBeGreaterThanOrEqual(1);
    expect(count(['operation="list-cards"', 'protocol="connect"', 'code="FIELD_TYPE"'])).toBeGreaterThanOrEqual(1);
    expect(count(['operation="delete-card"', 'protocol="grpc"', 'code="CARD_NOT_FOUND"'])).toBeGreaterThanOrEqual(1);
    expect(count(['operation="delete-card"', 'code="CONTENT_TYPE_UNSUPPORTED"'])).toBe(1);
  });

  it.each(["list", "delete"] as const)(
    "%s: a missing, unknown, revoked or another device's access token",
    async (call) => {
      const a = await device();
      const b = await device();
      const card = await seedCard(s.server.store, a.serial);
      const body = (token: string | undefined) =>
        call === "list"
          ? listBody(a.serial, token as string)
          : deleteBody(a.serial, token as string, card.clientCardId);
      const invalid = { status: 401, code: "ACCESS_TOKEN_INVALID", message: /not valid for this device/ };
      const serials = [a.serial, b.serial];
      await expectRefusedEverywhere(call, body(undefined), { status: 400, code: "FIELD_REQUIRED" }, serials);
      // Well formed, never issued.
      await expectRefusedEverywhere(call, body("x".repeat(64)), invalid, serials);
      // Issued for device b: valid, but not for a.
      await expectRefusedEverywhere(call, body(b.token), invalid, serials);
      const revoked = await s.issueToken(a.serial);
      expect(await s.server.tokens.revoke(revoked)).toBe(true);
      await expectRefusedEverywhere(call, body(revoked), invalid, serials);
      // The token is checked before the card: without one, no card of any device can be probed.
      if (call === "delete") {
        await expectRefusedEverywhere(call, deleteBody(b.serial, a.token, card.clientCardId), invalid, serials);
      }
    },
  );

  it("delete: an unknown card, another device's card and a deleted card get one and the same 404", async () => {
    const a = await device();
    const b = await device();
    const foreign = await seedCard(s.server.store, b.serial);
    const deleted = await seedCard(s.server.store, a.serial);
    await s.server.store.deleteCard(deleted.clientCardId, new Date());
    const live = await seedCard(s.server.store, a.serial);
    const notFound = { status: 404, code: "CARD_NOT_FOUND", message: "No live card with this clientCardId." };
    const texts = new Set<string>();
    for (const clientCardId of ["unknown-card-id-0123456789", foreign.clientCardId, deleted.clientCardId]) {
      await expectRefusedEverywhere("delete", deleteBody(a.serial, a.token, clientCardId), notFound, [
        a.serial,
        b.serial,
      ]);
      const json = await appCall(s.url, "json", "delete", deleteBody(a.serial, a.token, clientCardId));
      texts.add(json.text);
    }
    // The answers cannot tell the three apart: the same bytes.
    expect([...texts]).toEqual([
      '{"error":{"cause":"INVALID_REQUEST","code":"CARD_NOT_FOUND","message":"No live card with this clientCardId."}}',
    ]);
    expect((await s.server.store.findCard(foreign.clientCardId))?.deletedAt).toBeUndefined();
    expect((await s.server.store.findCard(live.clientCardId))?.deletedAt).toBeUndefined();
  });
});

describe("field rules: the same code and message on the JSON path, over Connect and over gRPC", () => {
  const SN = "SN-FIELDS";
  let token: string;
  let card: DeviceCard;
  beforeAll(async () => {
    token = await s.issueToken(SN);
    card = await seedCard(s.server.store, SN);
  });
  /** One broken field: the call, the field's path, its value (undefined: left out), the refusal. */
  type Case = [call: CardCall, path: string, value: unknown, code: string, message: string, overGrpc?: false];
  // biome-ignore format: a table reads best one case a line.
  const cases: Case[] = [
    ["list", "consumer", undefined, "FIELD_REQUIRED", "consumer is required."],
    ["delete", "consumer.device", null, "FIELD_REQUIRED", "consumer.device is required."],
    ["list", "consumer.device.serialNumber", 5, "FIELD_TYPE", "consumer.device.serialNumber must be a string.", false],
    ["list", "consumer.device.serialNumber", "", "FIELD_LENGTH", "consumer.device.serialNumber must be 1-50 characters long (got 0)."],
    ["delete", "consumer.device.serialNumber", "S".repeat(51), "FIELD_LENGTH", "consumer.device.serialNumber must be 1-50 characters long (got 51)."],
    ["list", "consumer.device.serialNumber", "SN\u0007", "FIELD_FORMAT", "consumer.device.serialNumber must not contain control characters."],
    ["list", "consumer.device.serialNumber", "SN-\ud800", "FIELD_FORMAT", "consumer.device.serialNumber must be valid Unicode text (it holds a lone UTF-16 surrogate).", false],
    ["list", "session", "token", "FIELD_TYPE", "session must be an object.", false],
    ["list", "session.accessToken", "t".repeat(31), "FIELD_LENGTH", "session.accessToken must be 32-128 characters long (got 31)."],
    ["delete", "session.accessToken", "t".repeat(129), "FIELD_LENGTH", "session.accessToken must be 32-128 characters long (got 129)."],
    ["delete", "card", undefined, "FIELD_REQUIRED", "card is required."],
    ["delete", "card.clientCardId", undefined, "FIELD_REQUIRED", "card.clientCardId is required."],
    ["delete", "card.clientCardId", 7, "FIELD_TYPE", "card.clientCardId must be a string.", false],
    ["delete", "card.clientCardId", "", "FIELD_LENGTH", "card.clientCardId must be 1-128 characters long (got 0)."],
    ["delete", "card.clientCardId", "c".repeat(129), "FIELD_LENGTH", "card.clientCardId must be 1-128 characters long (got 129)."],
    ["delete", "card.clientCardId", "card\n1", "FIELD_FORMAT", "card.clientCardId must not contain control characters."],
    ["delete", "card.clientCardId", "\udc00", "FIELD_FORMAT", "card.clientCardId must be valid Unicode text (it holds a lone UTF-16 surrogate).", false],
  ];

  /** The valid body of `call` with the field at `path` set to `value`, or left out. */
  function broken(call: CardCall, path: string, value: unknown): object {
    const body = call === "list" ? listBody(SN, token) : deleteBody(SN, token, card.clientCardId);
    const keys = path.split(".");
    const last = keys.pop() as string;
    let parent = body as Record<string, unknown>;
    for (const key of keys) parent = parent[key] as Record<string, unknown>;
    if (value === undefined) delete parent[last];
    else parent[last] = value;
    return body;
  }

  it.each(cases)("%s, %s = %j: 400 %s", async (call, path, value, code, message, overGrpc) => {
    const body = broken(call, path, value);
    const before = await cardsOf(s.server.store, SN);
    for (const via of TRANSPORTS) {
      if (via === "grpc" && overGrpc === false) continue;
      const out = await callVia(via, call, body);
      expect(out, via).toMatchObject({ ok: false, code, message, cause: "INVALID_REQUEST" });
      expect(out.status).toBe(via === "grpc" ? grpc.status.INVALID_ARGUMENT : 400);
    }
    expect(await cardsOf(s.server.store, SN)).toEqual(before);
  });

  it.each([
    { text: "{not json", code: "BODY_NOT_JSON" },
    { text: "[1]", code: "BODY_NOT_OBJECT" },
    { text: "", code: "BODY_EMPTY" },
  ])("a body $text: $code on both JSON forms", async ({ text, code }) => {
    for (const call of ["list", "delete"] as const) {
      const json = await appCall(s.url, "json", call, text);
      const connect = await appCall(s.url, "connect", call, text);
      expect(json).toMatchObject({ ok: false, status: 400, code });
      expect(connect).toMatchObject({ ok: false, status: 400, code });
      expect(!json.ok && !connect.ok && json.message === connect.message).toBe(true);
    }
  });

  it("takes unknown fields and proto field names as the other paths do", async () => {
    const body = { ...deleteBody(SN, token, card.clientCardId), extra: { x: 1 } };
    const json = await appCall(s.url, "json", "list", { ...listBody(SN, token), extra: 1 });
    const connect = await appCall(s.url, "connect", "list", {
      consumer: { device: { serial_number: SN } },
      session: { access_token: token },
      extra: 1,
    });
    expect(json.ok && connect.ok && json.answer).toEqual(connect.ok && connect.answer);
    expect(await appCall(s.url, "connect", "delete", body)).toMatchObject({ ok: true });
  });
});
