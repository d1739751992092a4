/**
 * Comparing a presented value with a stored one without telling, by the
 * time taken, how much of it matched: the check and the card mapping
 * notifications compare serial numbers, token hashes and nonces this way.
 */
import { createHash, timingSafeEqual } from "node:crypto";

/** Equal in constant time, whatever the lengths: both sides hashed first. */
export function sameText(a: string, b: string): boolean {
  const x = createHash("sha256").update(a, "utf8").digest();
  const y = createHash("sha256").update(b, "utf8").digest();
  return timingSafeEqual(x, y);
}
