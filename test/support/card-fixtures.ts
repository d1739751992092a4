/**
 * Cards for tests: stored through the store's own saveCard (as the card
 * mapping notification stores them), and the app's card calls over the JSON
 * paths and Connect's JSON, each answered in one shape.
 *
 * ```ts
 * const card = await seedCard(s.server.store, "SN-1", { createdAt: new Date(...) });
 * const out = await appCall(s.url, "json", "list", { consumer: {...}, session: {...} });
 * ```
 */
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { CardStore, DeviceCard } from "../../src/core/card-store.js";
import { ERROR_CATALOGUE, type ErrorCode } from "../../src/core/error-catalogue.js";
import { decodeErrorDetail } from "./grpc-js-client.js";

/** Stores a card for `serialNumber` (a fresh clientCardId and TopTechPay reference unless given). */
export async function seedCard(
  store: CardStore,
  serialNumber: string,
  overrides: Partial<DeviceCard> = {},
): Promise<DeviceCard> {
  const card: DeviceCard = {
    clientCardId: randomBytes(24).toString("base64url"),
    serialNumber,
    // Twelve digits: a form that cannot occur by chance in a clientCardId, a time or a BIN.
    serverCardId: String(randomInt(100_000_000_000, 999_999_999_999)),
    uniqueReferenceCardId: String(randomInt(100_000_000_000, 999_999_999_999)),
    bin: 411111,
    operation: "sale",
    invoiceId: randomUUID(),
    createdAt: new Date(),
    deletedAt: undefined,
    ...overrides,
  };
  const saved = await store.saveCard(card);
  expect(saved.created).toBe(true);
  return saved.card;
}

/** Every card of these devices, deleted ones too: what "nothing changed" compares. */
export async function cardsOf(store: CardStore, ...serialNumbers: string[]): Promise<DeviceCard[]> {
  const all = await Promise.all(serialNumbers.map((sn) => store.listCards(sn, { includeDeleted: true })));
  return all.flat();
}

/** The app's two calls. */
export type CardCall = "list" | "delete";
/** How the app's call travels: the JSON path, or DeviceCardService over Connect's JSON. */
export type AppTransport = "json" | "connect";

const JSON_PATH: Record<CardCall, string> = { list: "/cards/list-cards", delete: "/cards/delete-card" };
const RPC_PATH: Record<CardCall, string> = {
  list: "/toptechpay.card.v1.DeviceCardService/ListDeviceCards",
  delete: "/toptechpay.card.v1.DeviceCardService/DeleteDeviceCard",
};

/** What a call gave, one shape whatever carried it; `text` is the answer's bytes as sent. */
export type CardOutcome =
  | { ok: true; status: number; answer: Record<string, unknown>; text: string; requestId: string }
  | { ok: false; status: number; code: string; cause: string; message: string; text: string; requestId: string };

/** The Connect protocol's HTTP status for each code (connectrpc.com/docs/protocol#error-codes). */
const CONNECT_HTTP: Record<string, number> = {
  invalid_argument: 400,
  not_found: 404,
  permission_denied: 403,
  unauthenticated: 401,
  unavailable: 503,
};

/**
 * Posts `body` (an object, or raw text) to a card path or a card RPC with
 * Connect's JSON, and checks the error's form: the documented
 * `{"error":{cause,code,message}}` with the catalogue's status on the JSON
 * path, Connect's error with one ErrorDetail over Connect.
 */
export async function postCard(
  url: string,
  path: string,
  via: AppTransport,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<CardOutcome> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const requestId = res.headers.get("x-request-id") ?? "";
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const json = JSON.parse(text);
  if (res.status === 200) return { ok: true, status: 200, answer: json, text, requestId };
  if (via === "json") {
    expect(Object.keys(json)).toEqual(["error"]);
    expect(Object.keys(json.error).sort()).toEqual(["cause", "code", "message"]);
    const spec = ERROR_CATALOGUE[json.error.code as ErrorCode];
    expect({ status: res.status, cause: json.error.cause }).toEqual({ status: spec.httpStatus, cause: spec.cause });
    return { ok: false, status: res.status, ...json.error, text, requestId };
  }
  expect(json.details, text).toHaveLength(1);
  expect(json.details[0].type).toBe("toptechpay.initiate.v1.ErrorDetail");
  const detail = decodeErrorDetail(Buffer.from(json.details[0].value, "base64"));
  const spec = ERROR_CATALOGUE[detail.code as ErrorCode];
  expect({ code: json.code, status: res.status, message: json.message }).toEqual({
    code: spec.connectCode,
    status: CONNECT_HTTP[spec.connectCode],
    message: detail.message,
  });
  return { ok: false, status: res.status, ...detail, text, requestId };
}

/** The app's `call` over the JSON path or DeviceCardService (Connect JSON). */
export function appCall(url: string, via: AppTransport, call: CardCall, body: unknown): Promise<CardOutcome> {
  return postCard(url, via === "json" ? JSON_PATH[call] : RPC_PATH[call], via, body);
}

/** A list body for a device and token. */
export function listBody(serialNumber: string, accessToken: string) {
  return { consumer: { device: { serialNumber } }, session: { accessToken } };
}

/** A delete body for a device, token and card. */
export function deleteBody(serialNumber: string, accessToken: string, clientCardId: string) {
  return { ...listBody(serialNumber, accessToken), card: { clientCardId } };
}

/** Fails when `text` holds TopTechPay's references of `cards`, or their field names. */
export function expectNoReference(text: string, cards: DeviceCard[]): void {
  for (const k of cards) {
    expect(text).not.toContain(k.serverCardId);
    if (k.uniqueReferenceCardId) expect(text).not.toContain(k.uniqueReferenceCardId);
  }
  expect(text).not.toMatch(/serverCardId|server_card_id|uniqueReference|unique_reference/);
}
