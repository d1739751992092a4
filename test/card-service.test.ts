/**
 * CardService, the back office's view of cards, behind the API keys: a stock
 * @grpc/grpc-js client from proto/ and Connect's JSON by plain fetch, against
 * a real server on SQLite. It lists a device's cards (deleted ones when
 * asked), deletes one by clientCardId, and never shows TopTechPay's
 * references; a refused call changes nothing.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceCard } from "../src/core/card-store.js";
import {
  appCall,
  cardsOf,
  deleteBody,
  expectNoReference,
  listBody,
  postCard,
  seedCard,
} from "./support/card-fixtures.js";
import { type GrpcFailure, grpcJsCardClients } from "./support/grpc-js-client.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const API_KEY = "back-office-key-0123456789abcdef";
const SERVICE = "/toptechpay.card.v1.CardService";

let s: TestServer;
let c: ReturnType<typeof grpcJsCardClients>;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
  c = grpcJsCardClients(s.port);
});
afterAll(async () => {
  c?.close();
  await s?.close();
});

function bearer(key: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set("authorization", `Bearer ${key}`);
  return m;
}

type GrpcOut = { ok: true; value: Record<string, unknown> } | ({ ok: false } & GrpcFailure);

/** A CardService call with the stock client (the right key unless given). */
function grpcCall(method: string, request: object, metadata = bearer(API_KEY)): Promise<GrpcOut> {
  return c.call(c.cards, method, request, metadata) as Promise<GrpcOut>;
}

/** A CardService call over Connect's JSON (the right key unless given). */
function connectCall(method: string, request: object, headers = { authorization: `Bearer ${API_KEY}` }) {
  return postCard(s.url, `${SERVICE}/${method}`, "connect", request, headers);
}

/** A google.protobuf.Timestamp in proto3 JSON, as Connect writes it. */
const rfc3339 = (d: Date) => d.toISOString().replace(".000Z", "Z");

/** What the back office sees of `k` over Connect's JSON. */
function shown(k: DeviceCard) {
  return {
    clientCardId: k.clientCardId,
    serialNumber: k.serialNumber,
    ...(k.bin === undefined ? {} : { bin: k.bin }),
    operation: k.operation === "sale" ? "OPERATION_SALE" : "OPERATION_VERIFICATION",
    invoiceId: k.invoiceId,
    createdAt: rfc3339(k.createdAt),
    ...(k.deletedAt === undefined ? {} : { deletedAt: rfc3339(k.deletedAt) }),
  };
}

let devices = 0;
const fresh = () => `SN-BO-${process.pid}-${++devices}`;

describe("CardService", () => {
  it("needs an API key: none or a wrong one is UNAUTHENTICATED API_KEY_INVALID, and nothing is deleted", async () => {
    const sn = fresh();
    const card = await seedCard(s.server.store, sn);
    const before = await cardsOf(s.server.store, sn);
    for (const [method, request] of [
      ["ListCards", { serialNumber: sn }],
      ["DeleteCard", { clientCardId: card.clientCardId }],
    ] as const) {
      for (const metadata of [new grpc.Metadata(), bearer("wrong-key-0123456789abcdef"), bearer(`${API_KEY}x`)]) {
        const out = await grpcCall(method, request, metadata);
        expect(out).toMatchObject({
          ok: false,
          code: grpc.status.UNAUTHENTICATED,
          detail: { code: "API_KEY_INVALID", cause: "INVALID_REQUEST" },
        });
      }
      for (const headers of [{}, { authorization: "Bearer wrong-key-0123456789abcdef" }, { authorization: API_KEY }]) {
        const out = await connectCall(method, request, headers as { authorization: string });
        expect(out).toMatchObject({ ok: false, status: 401, code: "API_KEY_INVALID" });
      }
    }
    expect(await cardsOf(s.server.store, sn)).toEqual(before);
  });

  it("lists a device's cards oldest first, deleted ones only with include_deleted, never TopTechPay's references", async () => {
    const sn = fresh();
    const other = await seedCard(s.server.store, fresh());
    const t = (ms: string) => new Date(`2026-05-06T07:08:09.${ms}Z`);
    const verified = await seedCard(s.server.store, sn, {
      createdAt: t("300"),
      operation: "verification",
      bin: undefined,
    });
    const sold = await seedCard(s.server.store, sn, { createdAt: t("100") });
    const gone = await seedCard(s.server.store, sn, { createdAt: t("200") });
    const deleted = (await s.server.store.deleteCard(gone.clientCardId, t("900"))) as DeviceCard;
    const all = [sold, deleted, verified, other];

    const live = await connectCall("ListCards", { serialNumber: sn });
    expect(live.ok && live.answer).toEqual({ cards: [shown(sold), shown(verified)] });
    const everything = await connectCall("ListCards", { serialNumber: sn, includeDeleted: true });
    expect(everything.ok && everything.answer).toEqual({ cards: [shown(sold), shown(deleted), shown(verified)] });
    expect(shown(deleted).deletedAt).toBe("2026-05-06T07:08:09.900Z");
    for (const out of [live, everything]) expectNoReference(out.text, all);

    const viaGrpc = await grpcCall("ListCards", { serialNumber: sn, includeDeleted: true });
    expect(viaGrpc.ok).toBe(true);
    const cards = (viaGrpc.ok ? viaGrpc.value.cards : []) as Record<string, unknown>[];
    expect(cards.map((k) => [k.clientCardId, k.operation, k.bin, k.deletedAt !== undefined])).toEqual([
      [sold.clientCardId, "OPERATION_SALE", 411111, false],
      [deleted.clientCardId, "OPERATION_SALE", 411111, true],
      [verified.clientCardId, "OPERATION_VERIFICATION", undefined, false],
    ]);
    expectNoReference(JSON.stringify(viaGrpc), all);
    // A device without cards: an empty answer.
    expect(await connectCall("ListCards", { serialNumber: fresh() })).toMatchObject({ ok: true, answer: {} });
  });

  it("deletes a live card by clientCardId: gone for the app too; again, or unknown, is NOT_FOUND CARD_NOT_FOUND", async () => {
    const sn = fresh();
    const token = await s.issueToken(sn);
    const card = await seedCard(s.server.store, sn);
    const kept = await seedCard(s.server.store, sn);
    const out = await grpcCall("DeleteCard", { clientCardId: card.clientCardId });
    expect(out.ok).toBe(true);
    const stored = (await s.server.store.findCard(card.clientCardId)) as DeviceCard;
    expect(stored.deletedAt).toBeInstanceOf(Date);
    expect(out.ok && out.value.card).toMatchObject({
      clientCardId: card.clientCardId,
      serialNumber: sn,
      operation: "OPERATION_SALE",
      deletedAt: { seconds: String(Math.floor((stored.deletedAt as Date).getTime() / 1000)) },
    });
    expectNoReference(JSON.stringify(out), [card]);

    const app = await appCall(s.url, "json", "list", listBody(sn, token));
    expect(app.ok && (app.answer.cards as { clientCardId: string }[]).map((k) => k.clientCardId)).toEqual([
      kept.clientCardId,
    ]);
    expect(await appCall(s.url, "json", "delete", deleteBody(sn, token, card.clientCardId))).toMatchObject({
      ok: false,
      status: 404,
      code: "CARD_NOT_FOUND",
    });

    const before = await cardsOf(s.server.store, sn);
    for (const clientCardId of [card.clientCardId, "never-issued-card-id"]) {
      expect(await grpcCall("DeleteCard", { clientCardId })).toMatchObject({
        ok: false,
        code: grpc.status.NOT_FOUND,
        detail: { code: "CARD_NOT_FOUND", message: "No live card with this clientCardId." },
      });
      expect(await connectCall("DeleteCard", { clientCardId })).toMatchObject({
        ok: false,
        status: 404,
        code: "CARD_NOT_FOUND",
      });
    }
    expect(await cardsOf(s.server.store, sn)).toEqual(before);
    // The deleted card's time stands: a second delete did not move it.
    expect((await s.server.store.findCard(card.clientCardId))?.deletedAt).toEqual(stored.deletedAt);
  });

  it("logs the operation, device and card, never the API key or TopTechPay's reference", async () => {
    const sn = fresh();
    const card = await seedCard(s.server.store, sn);
    const out = await connectCall("DeleteCard", { clientCardId: card.clientCardId });
    expect(await s.logLineFor(out.requestId)).toMatchObject({
      operation: "back-office-delete-card",
      outcome: "ok",
      serialNumber: sn,
      clientCardId: card.clientCardId,
    });
    const listed = await connectCall("ListCards", { serialNumber: sn });
    expect(await s.logLineFor(listed.requestId)).toMatchObject({
      operation: "back-office-list-cards",
      serialNumber: sn,
    });
    const logs = JSON.stringify(s.logLines);
    expect(logs).not.toContain(API_KEY);
    expect(logs).not.toContain(card.serverCardId);
  });

  it.each([
    {
      method: "ListCards",
      request: { serialNumber: "" },
      code: "FIELD_REQUIRED",
      message: "serialNumber is required.",
    },
    {
      method: "ListCards",
      request: { serialNumber: "S".repeat(51) },
      code: "FIELD_LENGTH",
      message: "serialNumber must be 1-50 characters long (got 51).",
    },
    { method: "DeleteCard", request: {}, code: "FIELD_REQUIRED", message: "clientCardId is required." },
    {
      method: "DeleteCard",
      request: { clientCardId: "c".repeat(129) },
      code: "FIELD_LENGTH",
      message: "clientCardId must be 1-128 characters long (got 129).",
    },
  ])("$method with $code: INVALID_ARGUMENT over gRPC and Connect", async ({ method, request, code, message }) => {
    expect(await grpcCall(method, request)).toMatchObject({
      ok: false,
      code: grpc.status.INVALID_ARGUMENT,
      detail: { code, message },
    });
    expect(await connectCall(method, request)).toMatchObject({ ok: false, status: 400, code, message });
  });

  it("answers at most the 500 oldest cards of a device, and says it left some out", async () => {
    const sn = fresh();
    const base = Date.parse("2026-01-01T00:00:00Z");
    const cards = await Promise.all(
      Array.from({ length: 501 }, (_, i) => seedCard(s.server.store, sn, { createdAt: new Date(base + i * 1000) })),
    );
    const out = await connectCall("ListCards", { serialNumber: sn });
    const listed = (out.ok ? out.answer.cards : []) as { clientCardId: string }[];
    expect(out.ok && out.answer.truncated).toBe(true);
    expect(listed.map((k) => k.clientCardId)).toEqual(cards.slice(0, 500).map((k) => k.clientCardId));
    await s.server.store.deleteCard(cards[0]?.clientCardId as string, new Date());
    const after = await connectCall("ListCards", { serialNumber: sn });
    expect(after.ok && (after.answer.cards as unknown[]).length).toBe(500);
    expect(after.ok && after.answer.truncated).toBeUndefined();
  });
});
