/**
 * Playing TopTechPay against a test server: start a session as the app does
 * (POST /sale/initiate-sale or /verification/initiate-verification), then
 * check it as the gateway does. The checkSignature is recomputed here with
 * node:crypto straight from gateway.md's recipe, not with the server's code.
 *
 * ```ts
 * const init = await initiate(s, "sale");                 // a fresh device and token
 * const res = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
 * expect(res.json.session.checkSignature).toBe(expectedCheckSignature(init));
 * ```
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { Operation } from "../../src/core/initiate-request.js";
import { TEST_CONTROL_KEY, type TestServer } from "./test-server.js";

/** A started session as the app saw it, with what it started it with. */
export interface Initiated {
  readonly operation: Operation;
  readonly invoiceId: string;
  readonly endpointId: string;
  readonly nonce: string;
  readonly signature: string;
  readonly accessToken: string;
  readonly serialNumber: string;
}

let devices = 0;

/** Starts a session over the JSON path for a fresh device (its own token), as the app does. */
export async function initiate(
  s: Pick<TestServer, "url" | "issueToken">,
  operation: Operation,
  serialNumber?: string,
): Promise<Initiated> {
  devices++;
  const serial = serialNumber ?? `SN-GW-${process.pid}-${devices}`;
  const accessToken = await s.issueToken(serial);
  const body = {
    consumer: { device: { serialNumber: serial } },
    session: { accessToken },
    transaction: operation === "sale" ? { amountCentis: 1015, currency: "EUR" } : { currency: "USD" },
  };
  const path = operation === "sale" ? "/sale/initiate-sale" : "/verification/initiate-verification";
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`initiate answered ${res.status} ${text}`);
  const answer = JSON.parse(text) as {
    endpointId: string;
    invoiceId: string;
    session: { nonce: string; signature: string };
  };
  return {
    operation,
    invoiceId: answer.invoiceId,
    endpointId: answer.endpointId,
    nonce: answer.session.nonce,
    signature: answer.session.signature,
    accessToken,
    serialNumber: serial,
  };
}

/** A fresh TopTechPay session token (24 characters; the spec allows 16-36). */
export function gatewayToken(): string {
  return randomBytes(18).toString("base64url");
}

/** Another random UUID, for an invoice this server never started. */
export const unknownInvoice = (): string => randomUUID();

// biome-ignore lint/suspicious/noExplicitAny: check bodies are edited freely to make them wrong.
export type CheckBody = any;

/** The body TopTechPay posts to check `init` with its session token `token`. */
export function checkBody(init: Initiated, token: string): CheckBody {
  return {
    consumer: { device: { serialNumber: init.serialNumber } },
    session: { accessToken: init.accessToken, nonce: init.nonce, signature: init.signature, token },
  };
}

/** The check path of an operation and invoice. */
export function checkPath(operation: Operation, invoiceId: string): string {
  return `/${operation}/${encodeURIComponent(invoiceId)}/check`;
}

/** What a check answered. */
export interface CheckAnswer {
  readonly status: number;
  readonly text: string;
  // biome-ignore lint/suspicious/noExplicitAny: the answer's shape is what the test checks.
  readonly json: any;
  readonly requestId: string;
  readonly contentType: string | null;
}

/** POSTs a check as TopTechPay does (a JSON body unless `raw` text and its content type are given). */
export function postCheck(
  url: string,
  operation: Operation,
  invoiceId: string,
  body: unknown,
  options: { readonly headers?: Record<string, string>; readonly raw?: string } = {},
): Promise<CheckAnswer> {
  return postGateway(url, checkPath(operation, invoiceId), body, options);
}

/** POSTs JSON to a gateway-facing path as TopTechPay does (a JSON body unless `raw` text is given). */
export async function postGateway(
  url: string,
  path: string,
  body: unknown,
  options: { readonly headers?: Record<string, string>; readonly raw?: string } = {},
): Promise<CheckAnswer> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...options.headers },
    body: options.raw ?? JSON.stringify(body),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: res.status,
    text,
    json,
    requestId: res.headers.get("x-request-id") ?? "",
    contentType: res.headers.get("content-type"),
  };
}

/** The key of gateway.md: the control key without dashes, un-hexed. */
export function controlKeyBytes(controlKey = TEST_CONTROL_KEY): Buffer {
  return Buffer.from(controlKey.replaceAll("-", ""), "hex");
}

/** The message checkSignature is computed over (gateway.md); serverCardId only for a repeat sale's answer. */
export function checkMessage(
  init: Pick<Initiated, "serialNumber" | "nonce" | "endpointId" | "invoiceId">,
  serverCardId = "",
): string {
  return init.serialNumber + init.nonce + init.endpointId + init.invoiceId + serverCardId;
}

/** HMAC-SHA1 under the test endpoint's control key, 40 upper-case hex characters. */
function hmacHex(message: string): string {
  return createHmac("sha1", controlKeyBytes()).update(message, "utf8").digest("hex").toUpperCase();
}

/** checkSignature as TopTechPay verifies it: HMAC-SHA1, 40 upper-case hex characters. */
export function expectedCheckSignature(
  init: Pick<Initiated, "serialNumber" | "nonce" | "endpointId" | "invoiceId">,
  serverCardId?: string,
) {
  return hmacHex(checkMessage(init, serverCardId));
}

/** A notification answer's checkSignature (gateway.md): HMAC-SHA1 over nonce + endpointId + invoiceId. */
export function expectedNotificationSignature(init: Pick<Initiated, "nonce" | "endpointId" | "invoiceId">) {
  return hmacHex(init.nonce + init.endpointId + init.invoiceId);
}

/** SHA-256 hex of a text, the form the store keeps tokens in. */
export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The documented success answer, exactly: nothing more, nothing less, and the signature verified. */
export function expectCheckAnswer(answer: CheckAnswer, init: Initiated, token: string): void {
  expect(answer.status, answer.text).toBe(200);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(answer.json).toEqual({
    invoiceId: init.invoiceId,
    session: { checkSignature: expectedCheckSignature(init), nonce: init.nonce, token },
  });
  expect(answer.json.session.checkSignature).toMatch(/^[0-9A-F]{40}$/);
}

/**
 * The documented fail body of a check or notification, exactly:
 * `{"error":{cause,code,message},"invoiceId"}`, without invoiceId when none is known.
 */
export function expectCheckRefusal(
  answer: CheckAnswer,
  status: number,
  code: string,
  invoiceId: string | undefined,
  cause = "INVALID_REQUEST",
): void {
  expect({ status: answer.status, code: answer.json?.error?.code }, answer.text).toEqual({ status, code });
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(Object.keys(answer.json).sort()).toEqual(invoiceId === undefined ? ["error"] : ["error", "invoiceId"]);
  expect(Object.keys(answer.json.error).sort()).toEqual(["cause", "code", "message"]);
  expect(answer.json.invoiceId).toBe(invoiceId);
  expect(answer.json.error.cause).toBe(cause);
  expect(typeof answer.json.error.message).toBe("string");
  expect(answer.json.error.message.length).toBeGreaterThan(0);
}

/** The session is still only initiated: no gateway token bound, no check time. */
export async function expectNothingBound(s: TestServer, invoiceId: string): Promise<void> {
  const stored = await s.server.store.findStoredSession(invoiceId);
  expect(stored, `session ${invoiceId}`).toBeDefined();
  expect({ state: stored?.state, hash: stored?.gatewayTokenHash, checkedAt: stored?.checkedAt }).toEqual({
    state: "initiated",
    hash: undefined,
    checkedAt: undefined,
  });
}

/** A session checked as the gateway does, with the token it bound. */
export async function checkedSession(
  s: Pick<TestServer, "url" | "issueToken">,
  operation: Operation,
  serialNumber?: string,
): Promise<{ init: Initiated; token: string }> {
  const init = await initiate(s, operation, serialNumber);
  const token = gatewayToken();
  expectCheckAnswer(await postCheck(s.url, operation, init.invoiceId, checkBody(init, token)), init, token);
  return { init, token };
}

/** The card a notification carries: TopTechPay's serverCardId, and optionally its unique id and BIN. */
export interface NotifiedCard {
  readonly serverCardId: string;
  readonly uniqueReferenceCardId?: number | string;
  readonly bin?: number;
}

/** A fresh serverCardId, a decimal string as the gateway draws them. */
export function serverCardId(): string {
  return String(100_000_000 + Math.floor(Math.random() * 899_999_999));
}

/**
 * The body TopTechPay posts for `init` after its check with `token`: a sale
 * carries the reference in sourceCard, a verification at the top level.
 */
export function notificationBody(init: Initiated, token: string, card?: NotifiedCard): CheckBody {
  const body: CheckBody = {
    consumer: { device: { serialNumber: init.serialNumber } },
    session: { accessToken: init.accessToken, token },
  };
  if (!card) return body;
  const reference = { serverCardId: card.serverCardId, uniqueReferenceCardId: card.uniqueReferenceCardId };
  if (init.operation === "sale") body.sourceCard = { bin: card.bin, reference };
  else {
    body.sourceCard = { bin: card.bin };
    body.reference = reference;
  }
  return body;
}

/** A notification path: `/sale/notification`, or the path form with an invoice id. */
export function notificationPath(operation: Operation, invoiceId?: string): string {
  return invoiceId === undefined
    ? `/${operation}/notification`
    : `/${operation}/${encodeURIComponent(invoiceId)}/notification`;
}

/** POSTs a card mapping notification as TopTechPay does. */
export function postNotification(
  url: string,
  operation: Operation,
  body: unknown,
  invoiceId?: string,
): Promise<CheckAnswer> {
  return postGateway(url, notificationPath(operation, invoiceId), body);
}

/** The documented success answer of a notification, exactly, its signature verified. */
export function expectNotificationAnswer(answer: CheckAnswer, init: Initiated, token: string): void {
  expect(answer.status, answer.text).toBe(200);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(answer.json).toEqual({
    invoiceId: init.invoiceId,
    session: { checkSignature: expectedNotificationSignature(init), nonce: init.nonce, token },
  });
}

/** Every card stored for a device, deleted ones too, oldest first. */
export function cardsOf(s: TestServer, serialNumber: string) {
  return s.server.store.listCards(serialNumber, { includeDeleted: true });
}

/** A check sale of `init` paying with the card reference `clientCardId` (a repeat sale). */
export function repeatCheckBody(init: Initiated, token: string, clientCardId: string): CheckBody {
  return { ...checkBody(init, token), sourceOfFunds: { reference: { clientCardId } } };
}

/** The documented answer of a repeat sale's check: the card's serverCardId, signed over too. */
export function repeatSaleAnswer(init: Initiated, token: string, serverCardId: string) {
  return {
    invoiceId: init.invoiceId,
    session: { checkSignature: expectedCheckSignature(init, serverCardId), nonce: init.nonce, token },
    sourceOfFunds: { reference: { serverCardId } },
  };
}
