/**
 * The simulator's own reading of the signature recipes, against the spec's
 * worked example and against openssl: the simulator verifies the server, so
 * its arithmetic must stand on its own.
 */
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import {
  callbackControl,
  checkSignature,
  initiateSignature,
  isControlKey,
  notificationSignature,
} from "../src/simulator/signatures.js";

const KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20";
const EXAMPLE = {
  accessToken: "0123456789abcdef0123456789abcdef",
  serialNumber: "SN-000001",
  endpointId: "1111",
  nonce: "n0nce0123456789abcdefn0nce0123456789abcdef",
  invoiceId: "7f3c1f6e-3b9a-4c55-9d3e-2a1b0c9d8e7f",
};

/** `openssl dgst -sha1` of `message`, keyed (HMAC with the hex key) or plain, as its last field. */
function openssl(message: string, hexKey?: string): string {
  const args = hexKey ? ["dgst", "-sha1", "-mac", "HMAC", "-macopt", `hexkey:${hexKey}`] : ["dgst", "-sha1"];
  const out = execFileSync("openssl", args, { input: message }).toString().trim();
  return out.split(" ").at(-1) as string;
}

describe("the simulator's signatures", () => {
  it("the initiate signature of spec/README.md's worked example", () => {
    expect(initiateSignature(KEY, { ...EXAMPLE, amountCentis: 1000, currency: "EUR" })).toBe(
      "91E4E9D527DD9575BF5359ADC1B79881B9FDBCB7",
    );
  });

  it("checkSignature with and without serverCardId, and the notification's, as openssl computes them", () => {
    const hex = KEY.replaceAll("-", "");
    const { serialNumber, nonce, endpointId, invoiceId } = EXAMPLE;
    expect(checkSignature(KEY, EXAMPLE)).toBe(
      openssl(serialNumber + nonce + endpointId + invoiceId, hex).toUpperCase(),
    );
    expect(checkSignature(KEY, { ...EXAMPLE, serverCardId: "123456789" })).toBe(
      openssl(`${serialNumber}${nonce}${endpointId}${invoiceId}123456789`, hex).toUpperCase(),
    );
    expect(notificationSignature(KEY, EXAMPLE)).toBe(openssl(nonce + endpointId + invoiceId, hex).toUpperCase());
    expect(initiateSignature(KEY, { ...EXAMPLE, currency: "USD" })).toBe(
      openssl(`${EXAMPLE.accessToken}${serialNumber}${endpointId}${nonce}${invoiceId}USD`, hex).toUpperCase(),
    );
  });

  it("the callback's control: plain SHA-1, lower case, over status + orderid + client_orderid + the key's text", () => {
    const control = callbackControl(KEY, { status: "approved", orderid: "902", clientOrderid: EXAMPLE.invoiceId });
    expect(control).toBe(openssl(`approved902${EXAMPLE.invoiceId}${KEY}`));
    expect(control).toMatch(/^[0-9a-f]{40}$/);
  });

  it("takes a key as hexadecimal bytes with dashes anywhere, nothing else", () => {
    expect([KEY, KEY.replaceAll("-", ""), KEY.toLowerCase()].map(isControlKey)).toEqual([true, true, true]);
    expect(["", "ABC", "B17F59B4-XXXX", "B17F 59B4"].map(isControlKey)).toEqual([false, false, false, false]);
  });
});
