/**
 * Comparing secrets and presented values (signatures, token hashes, serial
 * numbers, nonces, callback controls) without the time taken saying where,
 * or how much of them, they differ.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Equal in constant time, whatever the lengths: both sides hashed first. */
export function sameText(a: string, b: string): boolean {
  const x = createHash("sha256").update(a, "utf8").digest();
  const y = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(x, y);
}
