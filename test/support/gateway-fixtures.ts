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
export async function initiate(s: TestServer, operation: Operation, serialNumber?: string): Promise<Initiated> {
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
export async function postCheck(
  url: string,
  operation: Operation,
  invoiceId: string,
  body: unknown,
  options: { readonly headers?: Record<string, string>; readonly raw?: string } = {},
): Promise<CheckAnswer> {
  const res = await fetch(`${url}${checkPath(operation, invoiceId)}`, {
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

/** The message checkSignature is computed over (gateway.md), without a card reference. */
export function checkMessage(init: Pick<Initiated, "serialNumber" | "nonce" | "endpointId" | "invoiceId">): string {
  return init.serialNumber + init.nonce + init.endpointId + init.invoiceId;
}

/** checkSignature as TopTechPay verifies it: HMAC-SHA1, 40 upper-case hex characters. */
export function expectedCheckSignature(init: Pick<Initiated, "serialNumber" | "nonce" | "endpointId" | "invoiceId">) {
  return createHmac("sha1", controlKeyBytes()).update(checkMessage(init), "utf8").digest("hex").toUpperCase();
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

/** The documented fail body of a check, exactly: `{"error":{cause,code,message},"invoiceId"}`. */
export function expectCheckRefusal(
  answer: CheckAnswer,
  status: number,
  code: string,
  invoiceId: string,
  cause = "INVALID_REQUEST",
): void {
  expect({ status: answer.status, code: answer.json?.error?.code }, answer.text).toEqual({ status, code });
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(Object.keys(answer.json).sort()).toEqual(["error", "invoiceId"]);
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
