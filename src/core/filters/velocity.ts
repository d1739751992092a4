/**
 * The velocity rule: at most N initiates in a sliding window per device
 * (serial number), per access token (by its SHA-256, never the token) and per
 * IPv4 address. Counting goes through the VelocityStore, so several instances
 * on one PostgreSQL database share the counts.
 *
 * Which attempts count: every attempt that reaches this rule is recorded, also
 * the ones it refuses, and also ones that later fail to be stored. A device
 * that keeps retrying above its limit therefore stays refused until it slows
 * down; a client cannot get more than N through in any window, and recording
 * unconditionally keeps the store's work one insert-and-count, race-free
 * across instances. Attempts refused by an earlier rule (validation, token,
 * currency, amount, blocklist, IP range, location) never reach it and do not
 * count.
 */
import { AppError, type ErrorCode } from "../error-catalogue.js";
import type { HashedInitiateRequest } from "../initiate-request.js";
import { NOTHING_STARTED, rethrowStoreFailure } from "../store-failure.js";
import type { VelocityDimension, VelocityEvent, VelocityStore } from "../velocity-store.js";
import type { FilterRules, VelocityLimit } from "./rules.js";

const CODES: Record<VelocityDimension, ErrorCode> = {
  device: "VELOCITY_DEVICE",
  token: "VELOCITY_TOKEN",
  ip: "VELOCITY_IP",
};

const MESSAGES: Record<VelocityDimension, string> = {
  device: "Too many initiates from this device in a short time (rule filters.velocity.perDevice). Retry later.",
  token: "Too many initiates with this access token in a short time (rule filters.velocity.perToken). Retry later.",
  ip: "Too many initiates from this IP address in a short time (rule filters.velocity.perIp). Retry later.",
};

const RULE: Record<VelocityDimension, string> = {
  device: "filters.velocity.perDevice",
  token: "filters.velocity.perToken",
  ip: "filters.velocity.perIp",
};

/** Checks a request against the velocity limits; throws AppError when one is passed. */
export type VelocityCheck = (request: HashedInitiateRequest) => Promise<void>;

/**
 * Builds the check. `store` is asked only when at least one limit is
 * configured. Old attempts are pruned at most once per longest window.
 */
export function createVelocityCheck(rules: FilterRules, store: VelocityStore, now: () => Date): VelocityCheck {
  const { perDevice, perToken, perIp } = rules.velocity;
  const longestMs = Math.max(0, ...[perDevice, perToken, perIp].map((l) => (l ? l.windowSeconds * 1000 : 0)));
  let nextPruneMs = 0;

  function prune(at: Date): void {
    if (at.getTime() < nextPruneMs) return;
    nextPruneMs = at.getTime() + longestMs;
    // Housekeeping only: a failure leaves a few old rows, never a wrong count
    // (counts are bounded by the window), so it is not the caller's problem.
    store.pruneVelocity(new Date(at.getTime() - longestMs)).catch(() => {
      nextPruneMs = 0;
    });
  }

  return async (request) => {
    const at = now();
    const since = (limit: VelocityLimit) => new Date(at.getTime() - limit.windowSeconds * 1000);
    const checks: { event: VelocityEvent; limit: VelocityLimit }[] = [];
    if (perDevice) {
      checks.push({
        event: { dimension: "device", key: request.serialNumber, since: since(perDevice) },
        limit: perDevice,
      });
    }
    if (perToken) {
      const key = request.accessTokenHash;
      checks.push({ event: { dimension: "token", key, since: since(perToken) }, limit: perToken });
    }
    if (perIp) {
      for (const ip of new Set(request.ipAddresses)) {
        checks.push({ event: { dimension: "ip", key: ip, since: since(perIp) }, limit: perIp });
      }
    }
    if (checks.length === 0) return;

    let counts: number[];
    try {
      counts = await store.recordVelocity(
        checks.map((c) => c.event),
        at,
      );
    } catch (e) {
      rethrowStoreFailure(e, NOTHING_STARTED, "filters.velocity");
    }
    prune(at);

    // Refuse on the first limit passed, in the documented order: device, token, IP.
    checks.forEach((c, i) => {
      const count = counts[i] ?? 0;
      if (count > c.limit.max) {
        const d = c.event.dimension;
        throw new AppError(CODES[d], MESSAGES[d], {
          logDetail: `${RULE[d]}: ${count} attempts in ${c.limit.windowSeconds}s, limit ${c.limit.max}`,
        });
      }
    });
  };
}
