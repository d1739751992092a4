/**
 * Evaluates the merchant's risk rules on a request that passed validation,
 * the access token check and the currency check (no endpoint for the
 * operation and currency: CURRENCY_NOT_ACCEPTED, in the initiate service),
 * before any id is drawn or session stored. The order is fixed and documented
 * in the README: the cheap static rules first, velocity last, so a request
 * refused by a static rule is never counted against a velocity limit.
 *
 *   1. amounts (sales only)       AMOUNT_BELOW_MINIMUM, AMOUNT_ABOVE_MAXIMUM
 *   2. blocked devices            DEVICE_BLOCKED (serial number, then IMEI)
 *   3. IP addresses               IP_ADDRESS_REQUIRED, IP_ADDRESS_BLOCKED, IP_ADDRESS_NOT_ALLOWED
 *   4. locations                  LOCATION_REQUIRED, LOCATION_NOT_ALLOWED
 *   5. velocity                   VELOCITY_DEVICE, VELOCITY_TOKEN, VELOCITY_IP
 *
 * Every refusal is an AppError with cause FILTERED (HTTP 403, gRPC
 * PERMISSION_DENIED). Its message names the rule, never the rule's contents;
 * its logDetail (log only) starts with the rule's config path.
 */
import { AppError } from "../error-catalogue.js";
import type { HashedInitiateRequest, InitiateRequest } from "../initiate-request.js";
import type { VelocityStore } from "../velocity-store.js";
import { type FilterRules, hasVelocityLimits } from "./rules.js";
import { createVelocityCheck } from "./velocity.js";

/** Refuses a request by throwing AppError; resolves when every rule lets it pass. */
export type RequestFilter = (request: HashedInitiateRequest) => Promise<void>;

/** What the evaluator needs besides the rules. */
export interface RequestFilterDeps {
  /** Needed only when a velocity limit is configured. */
  readonly velocityStore?: VelocityStore;
  readonly now?: () => Date;
}

function checkAmount(rules: FilterRules, request: InitiateRequest): void {
  if (request.amountCentis === undefined) return;
  const limits = rules.amounts.get(request.currency);
  if (!limits) return;
  const amount = request.amountCentis;
  if (limits.min !== undefined && amount < limits.min) {
    throw new AppError(
      "AMOUNT_BELOW_MINIMUM",
      `The amount is below the minimum the merchant accepts in ${request.currency} (rule filters.amounts).`,
      { logDetail: `filters.amounts: ${amount} < min ${limits.min} ${request.currency}` },
    );
  }
  if (limits.max !== undefined && amount > limits.max) {
    throw new AppError(
      "AMOUNT_ABOVE_MAXIMUM",
      `The amount is above the maximum the merchant accepts in ${request.currency} (rule filters.amounts).`,
      { logDetail: `filters.amounts: ${amount} > max ${limits.max} ${request.currency}` },
    );
  }
}

function checkDevice(rules: FilterRules, request: InitiateRequest): void {
  const bySerial = rules.blockedSerialNumbers.has(request.serialNumber);
  const byImei = request.imei !== undefined && rules.blockedImeis.has(request.imei);
  if (bySerial || byImei) {
    throw new AppError("DEVICE_BLOCKED", "The device is not allowed to start payments (rule filters.blockedDevices).", {
      logDetail: `filters.blockedDevices.${bySerial ? "serialNumbers" : "imeis"}: device on blocklist`,
    });
  }
}

function checkIpAddresses(rules: FilterRules, request: InitiateRequest): void {
  const ips = request.ipAddresses;
  if (ips.length === 0) {
    if (rules.ipRequired) {
      throw new AppError(
        "IP_ADDRESS_REQUIRED",
        "consumer.ipAddresses must hold at least one address (rule filters.ipAddresses.required).",
        { logDetail: "filters.ipAddresses.required: no address in the request" },
      );
    }
    return;
  }
  ips.forEach((ip, i) => {
    if (rules.ipBlock?.check(ip, "ipv4")) {
      throw new AppError(
        "IP_ADDRESS_BLOCKED",
        `consumer.ipAddresses[${i}] is in a blocked range (rule filters.ipAddresses.block).`,
        { logDetail: `filters.ipAddresses.block: ${ip} in a blocked range` },
      );
    }
  });
  ips.forEach((ip, i) => {
    if (rules.ipAllow && !rules.ipAllow.check(ip, "ipv4")) {
      throw new AppError(
        "IP_ADDRESS_NOT_ALLOWED",
        `consumer.ipAddresses[${i}] is outside the allowed ranges (rule filters.ipAddresses.allow).`,
        { logDetail: `filters.ipAddresses.allow: ${ip} outside every allowed range` },
      );
    }
  });
}

function checkLocation(rules: FilterRules, request: InitiateRequest): void {
  const at = request.location;
  if (at === undefined) {
    if (rules.locationRequired) {
      throw new AppError("LOCATION_REQUIRED", "location is required (rule filters.locations.required).", {
        logDetail: "filters.locations.required: no location in the request",
      });
    }
    return;
  }
  if (rules.locationBoxes.length === 0) return;
  const inside = rules.locationBoxes.some(
    (b) => at.lat >= b.minLat && at.lat <= b.maxLat && at.lng >= b.minLng && at.lng <= b.maxLng,
  );
  if (!inside) {
    throw new AppError(
      "LOCATION_NOT_ALLOWED",
      "location is outside the allowed areas (rule filters.locations.allow).",
      {
        logDetail: `filters.locations.allow: ${at.lat},${at.lng} outside every box`,
      },
    );
  }
}

/** Builds the filter from the rules; throws when a velocity limit has no store. */
export function createRequestFilter(rules: FilterRules, deps: RequestFilterDeps = {}): RequestFilter {
  const now = deps.now ?? (() => new Date());
  let velocity: ((request: HashedInitiateRequest) => Promise<void>) | undefined;
  if (hasVelocityLimits(rules)) {
    if (!deps.velocityStore) throw new Error("filters.velocity is configured but the store cannot count attempts");
    velocity = createVelocityCheck(rules, deps.velocityStore, now);
  }
  return async (request) => {
    checkAmount(rules, request);
    checkDevice(rules, request);
    checkIpAddresses(rules, request);
    checkLocation(rules, request);
    if (velocity) await velocity(request);
  };
}
