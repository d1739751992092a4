/**
 * A session as the initiate service stores it, for tests that write to a
 * store directly: every optional field set, a fresh invoiceId and nonce.
 */
import { randomUUID } from "node:crypto";
import { drawNonce } from "../../src/core/session-ids.js";
import type { SessionRecord } from "../../src/core/session-store.js";

/** A full SessionRecord (an amount past 2^53 and a location, to catch lossy columns), with `overrides`. */
export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    invoiceId: randomUUID(),
    operation: "sale",
    endpointId: "1111",
    nonce: drawNonce(),
    signature: "A".repeat(40),
    amountCentis: 9_007_199_254_740_991,
    currency: "EUR",
    serialNumber: "SN-1",
    imei: "123456789012345",
    ipAddresses: ["10.0.0.1", "192.168.1.20"],
    location: { lat: 60.1699, lng: -24.9384 },
    accessTokenHash: "f".repeat(64),
    createdAt: new Date("2026-01-02T03:04:05.678Z"),
    ...overrides,
  };
}
