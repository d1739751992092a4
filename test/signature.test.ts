/**
 * The session signature must be exactly the gateway's: pinned to the worked
 * example of the spec, and cross-checked against the real `openssl` command.
 */
import { execFileSync } from "node:child_process";
import { randomBytes, randomInt, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { drawNonce } from "../src/core/session-ids.js";
import { controlKeyFromText, type SignedFields, signSession } from "../src/core/signature.js";
import { WORKED, WORKED_KEY, WORKED_SIGNATURE } from "./support/worked-example.js";

/** What the spec's shell line computes: openssl HMAC-SHA1 with the key as hex, upper-cased. */
function opensslSignature(keyText: string, message: string): string {
  const out = execFileSync(
    "openssl",
    ["dgst", "-sha1", "-mac", "HMAC", "-macopt", `hexkey:${keyText.replaceAll("-", "")}`],
    { input: Buffer.from(message, "utf8"), encoding: "utf8" },
  );
  // "SHA1(stdin)= 91e4..." or "HMAC-SHA1(stdin)= 91e4..." depending on the version.
  const hex = /([0-9a-f]{40})\s*$/i.exec(out)?.[1];
  if (!hex) throw new Error(`unexpected openssl output: ${out}`);
  return hex.toUpperCase();
}

function dashedKey(bytes: Buffer): string {
  const h = bytes.toString("hex").toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function randomText(min: number, max: number, alphabet: string): string {
  const chars = [...alphabet];
  const n = randomInt(min, max + 1);
  return Array.from({ length: n }, () => chars[randomInt(chars.length)]).join("");
}

describe("signSession", () => {
  it("reproduces the worked example of the spec", () => {
    const signature = signSession(controlKeyFromText(WORKED_KEY), WORKED);
    expect(signature).toBe(WORKED_SIGNATURE);
    // The same key without dashes and in lower case is the same key.
    expect(signSession(controlKeyFromText(WORKED_KEY.replaceAll("-", "").toLowerCase()), WORKED)).toBe(signature);
  });

  it("agrees with the openssl command on the worked example", () => {
    // The spec's shell line, value by value in the documented order.
    const message = [
      "0123456789abcdef0123456789abcdef",
      "SN-000001",
      "1111",
      "n0nce0123456789abcdefn0nce0123456789abcdef",
      "7f3c1f6e-3b9a-4c55-9d3e-2a1b0c9d8e7f",
      "1000",
      "EUR",
    ].join("");
    expect(opensslSignature(WORKED_KEY, message)).toBe(WORKED_SIGNATURE);
  });

  it("leaves the amount out of a verification", () => {
    const key = controlKeyFromText(WORKED_KEY);
    const verification = signSession(key, { ...WORKED, amountCentis: undefined });
    expect(verification).not.toBe(signSession(key, WORKED));
    const { accessToken, serialNumber, endpointId, nonce, invoiceId, currency } = WORKED;
    expect(verification).toBe(
      opensslSignature(WORKED_KEY, accessToken + serialNumber + endpointId + nonce + invoiceId + currency),
    );
  });

  it("matches openssl for random sales and verifications", () => {
    const tokenChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";
    // Serial numbers may hold any non-control character: UTF-8 encoding must match too.
    const serialChars = "ABCXYZ0123456789-_/ äöüßçé€日本😀";
    for (let i = 0; i < 12; i++) {
      const keyBytes = randomBytes(i % 3 === 0 ? 32 : 16);
      const keyText = i % 2 === 0 ? dashedKey(keyBytes.subarray(0, 16)) : keyBytes.toString("hex");
      const fields: SignedFields = {
        accessToken: randomText(32, 128, tokenChars),
        serialNumber: randomText(1, 50, serialChars),
        endpointId: String(randomInt(1, 100_000)),
        nonce: drawNonce(),
        invoiceId: randomUUID(),
        amountCentis: i % 2 === 0 ? randomInt(1, 2 ** 47) : undefined,
        currency: ["EUR", "USD", "GBP", "JPY", "CHF"][i % 5] as string,
      };
      const amount = fields.amountCentis === undefined ? "" : String(fields.amountCentis);
      const message =
        fields.accessToken +
        fields.serialNumber +
        fields.endpointId +
        fields.nonce +
        fields.invoiceId +
        amount +
        fields.currency;
      const ours = signSession(controlKeyFromText(keyText), fields);
      expect(ours).toMatch(/^[0-9A-F]{40}$/);
      expect(ours, JSON.stringify({ keyText, fields })).toBe(opensslSignature(keyText, message));
    }
  });

  it("gives a different signature for a different key", () => {
    const other = controlKeyFromText("B17F59B4-A7DC-41B4-8FF9-37D986B43D21");
    expect(signSession(other, WORKED)).not.toBe(WORKED_SIGNATURE);
  });
});

describe("controlKeyFromText", () => {
  it("decodes the dashed hex text to its bytes", () => {
    const key = controlKeyFromText(WORKED_KEY);
    expect(key.type).toBe("secret");
    expect(key.export().toString("hex").toUpperCase()).toBe("B17F59B4A7DC41B48FF937D986B43D20");
  });

  const bad: [string, string][] = [
    ["odd number of digits", "B17F59B4-A7DC-41B4-8FF9-37D986B43D2"],
    ["non-hex letters", "G17F59B4-A7DC-41B4-8FF9-37D986B43D20"],
    ["spaces inside", "B17F59B4 A7DC 41B4 8FF9 37D986B43D20"],
    ["only dashes", "----"],
    ["empty", ""],
  ];
  for (const [what, text] of bad) {
    it(`refuses a key with ${what}, without echoing it`, () => {
      let message = "";
      try {
        controlKeyFromText(text);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/hexadecimal/);
      const digits = text.replaceAll("-", "").replaceAll(" ", "");
      if (digits.length >= 4) {
        expect(message).not.toContain(digits.slice(0, 8));
        expect(message).not.toContain(text);
      }
    });
  }
});
