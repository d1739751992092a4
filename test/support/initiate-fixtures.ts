/**
 * Request bodies and answer checks shared by the end-to-end tests. The
 * signature is recomputed here with node:crypto straight from the spec's
 * recipe, not with the server's own signing code.
 */
import { createHmac } from "node:crypto";
import { expect } from "vitest";
import { TEST_CONTROL_KEY, TEST_ENDPOINT_ID, TEST_SERIAL } from "./test-server.js";

export const SERIAL = TEST_SERIAL;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A valid sale body with every optional field, as the mobile app sends it. */
export function saleBody(accessToken: string): Record<string, unknown> {
  return {
    consumer: { device: { serialNumber: SERIAL, imei: "356938035643809" }, ipAddresses: ["192.0.2.10"] },
    location: { lat: 46.05, lng: 14.5 },
    session: { accessToken },
    transaction: { amountCentis: 1015, currency: "EUR" },
  };
}

/** A valid verification body with only the required fields. */
export function verificationBody(accessToken: string): Record<string, unknown> {
  return {
    consumer: { device: { serialNumber: SERIAL } },
    session: { accessToken },
    transaction: { currency: "USD" },
  };
}

/** The documented success answer. */
export interface Answer {
  endpointId: string;
  invoiceId: string;
  session: { nonce: string; signature: string };
}

/** The spec's signature, computed independently of the server. */
export function expectedSignature(
  answer: Answer,
  f: { accessToken: string; serialNumber: string; amountCentis?: number | bigint | string; currency: string },
): string {
  const amount = f.amountCentis === undefined ? "" : String(f.amountCentis);
  const message = f.accessToken + f.serialNumber + answer.endpointId + answer.session.nonce + answer.invoiceId;
  return createHmac("sha1", Buffer.from(TEST_CONTROL_KEY.replaceAll("-", ""), "hex"))
    .update(message + amount + f.currency, "utf8")
    .digest("hex")
    .toUpperCase();
}

/** Checks the answer's shape and that its signature verifies under the test control key. */
export function expectSignedAnswer(
  answer: Answer,
  f: { accessToken: string; serialNumber?: string; amountCentis?: number | bigint | string; currency: string },
): void {
  expect(answer.endpointId).toBe(TEST_ENDPOINT_ID);
  expect(answer.invoiceId).toMatch(UUID);
  expect(answer.session.nonce).toMatch(/^[A-Za-z0-9_-]{32,}$/);
  expect(answer.session.signature).toMatch(/^[0-9A-F]{40}$/);
  expect(answer.session.signature).toBe(expectedSignature(answer, { serialNumber: SERIAL, ...f }));
}
