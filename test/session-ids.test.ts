/**
 * The invoice id and the nonce: the documented forms, the time at their front
 * (which keeps the store's unique indexes cheap to write) and the randomness
 * after it.
 */
import { describe, expect, it } from "vitest";
import { drawNonce, NONCE_BYTES, NONCE_TIME_BYTES, newInvoiceId, nonceTime } from "../src/core/session-ids.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("invoice ids", () => {
  it("are UUIDv7 whose first 48 bits are the given time in milliseconds", () => {
    const at = Date.UTC(2026, 10, 21, 13, 45, 0, 123);
    const id = newInvoiceId(at);
    expect(id).toMatch(UUID_V7);
    expect(Number.parseInt(id.replace("-", "").slice(0, 12), 16)).toBe(at);
  });

  it("sort by the time they were drawn, so new rows land at the end of the index", () => {
    const ids = [0, 1, 2, 1000, 86_400_000].map((d) => newInvoiceId(1_795_000_000_000 + d));
    expect([...ids].sort()).toEqual(ids);
  });

  it("differ within one millisecond: 74 random bits each", () => {
    const at = Date.now();
    const ids = Array.from({ length: 10_000 }, () => newInvoiceId(at));
    expect(new Set(ids).size).toBe(ids.length);
    // The random part really varies: every hex digit after the version shows up.
    const tails = new Set(ids.map((id) => id.slice(-1)));
    expect(tails.size).toBe(16);
  });
});

describe("nonces", () => {
  it("are 32 bytes in base64url (43 characters) starting with the time", () => {
    const at = Date.UTC(2026, 10, 21, 13, 45, 0, 123);
    const nonce = drawNonce(at);
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(nonce, "base64url")).toHaveLength(NONCE_BYTES);
    expect(nonceTime(nonce)).toBe(at);
  });

  it("share their first characters with nonces drawn at the same time, and nothing after them", () => {
    const at = Date.now();
    const nonces = Array.from({ length: 10_000 }, () => drawNonce(at));
    expect(new Set(nonces).size).toBe(nonces.length);
    const timeChars = Math.floor((NONCE_TIME_BYTES * 8) / 6);
    expect(new Set(nonces.map((n) => n.slice(0, timeChars))).size).toBe(1);
    // The 26 random bytes: each of the 64 base64url characters appears in
    // every random position across 10,000 nonces.
    for (let pos = timeChars + 1; pos < 42; pos += 7) {
      expect(new Set(nonces.map((n) => n[pos])).size).toBe(64);
    }
  });

  it("never reuse random bytes, even across the pool's refills", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const random = Buffer.from(drawNonce(0), "base64url").subarray(NONCE_TIME_BYTES).toString("hex");
      expect(seen.has(random)).toBe(false);
      seen.add(random);
    }
  });
});
