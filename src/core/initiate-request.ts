/**
 * Validation of the two documented request bodies. The input is the plain
 * JSON-shaped value a caller sent (the JSON paths pass the parsed body, the RPC
 * adapters pass their message in the same shape), so every protocol runs the
 * same rules in the same order and gets the same answer.
 */
import { isIPv4 } from "node:net";
import { AppError } from "./error-catalogue.js";
import {
  checkLength,
  isObject,
  type Json,
  optionalObject,
  requiredObject,
  requiredString,
  requiredTextValue,
} from "./json-fields.js";

/** The two operations this server starts. */
export type Operation = "sale" | "verification";

/** A request that passed every documented rule. */
export interface InitiateRequest {
  readonly operation: Operation;
  readonly serialNumber: string;
  readonly imei: string | undefined;
  readonly ipAddresses: readonly string[];
  readonly location: { readonly lat: number; readonly lng: number } | undefined;
  readonly accessToken: string;
  readonly currency: string;
  /** Minor units; set for a sale, undefined for a verification. */
  readonly amountCentis: number | undefined;
}

/**
 * A valid request with its access token's SHA-256 (hex) attached once, for
 * everything after validation that keys on the token: the token check, the
 * velocity filter and the stored session.
 */
export interface HashedInitiateRequest extends InitiateRequest {
  readonly accessTokenHash: string;
}

// ICU's list of current ISO 4217 codes ships with Node; read once at load.
const ISO_4217 = new Set(Intl.supportedValuesOf("currency"));
const IMEI = /^[0-9]{14,16}$/;
const CURRENCY_FORM = /^[A-Z]{3}$/;
// proto3 JSON's int64 string: decimal digits, an optional minus, no leading
// zero, no sign "+", no blanks, no exponent, no fraction, no hex.
const INTEGER_STRING = /^-?(?:0|[1-9][0-9]*)$/;
// proto3 JSON spells non-finite doubles as these strings; they must be refused
// as "not finite", not as a wrong type, so JSON and Connect callers agree.
const NON_FINITE = new Set(["NaN", "Infinity", "-Infinity"]);

/**
 * The documented serial-number rule (required, 1-50 characters, no control
 * characters), shared with the token service; `path` names it in messages.
 */
export function checkSerialNumber(value: unknown, path: string): string {
  return requiredTextValue(value, path, 1, 50);
}

/** `consumer.device.serialNumber` of a gateway or card body (initiate reads the rest of `consumer` too). */
export function deviceSerialNumber(body: Json): string {
  const device = requiredObject(requiredObject(body, "consumer", "consumer"), "device", "consumer.device");
  return checkSerialNumber(device.serialNumber, "consumer.device.serialNumber");
}

function coordinate(parent: Json, key: string, path: string, limit: number): number {
  const value = parent[key];
  if (value === undefined || value === null) {
    throw new AppError("FIELD_REQUIRED", `${path} is required when location is given.`);
  }
  let n: number;
  if (typeof value === "number") n = value;
  else if (typeof value === "string" && NON_FINITE.has(value)) n = Number.NaN;
  // The contract's type is a JSON number: "45", " 45", "0x10" or "1e1" is not one.
  else throw new AppError("FIELD_TYPE", `${path} must be a JSON number.`);
  if (!Number.isFinite(n)) throw new AppError("FIELD_RANGE", `${path} must be a finite number.`);
  if (n < -limit || n > limit) {
    throw new AppError("FIELD_RANGE", `${path} must be between -${limit} and ${limit} inclusive.`);
  }
  return n;
}

function amount(parent: Json, path: string): number {
  const value = parent.amountCentis;
  if (value === undefined || value === null) throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  let n: number;
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new AppError("FIELD_FORMAT", `${path} must be a whole number.`);
    n = value;
  } else if (typeof value === "bigint") {
    n = value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.POSITIVE_INFINITY : Number(value);
  } else if (typeof value === "string") {
    if (!INTEGER_STRING.test(value)) {
      throw new AppError(
        "FIELD_FORMAT",
        `${path} must be a whole number: a JSON integer or a plain decimal integer string such as "1015".`,
      );
    }
    n = Number(value);
  } else {
    throw new AppError("FIELD_TYPE", `${path} must be a number or an integer string.`);
  }
  if (n <= 0 || n > Number.MAX_SAFE_INTEGER) {
    throw new AppError("FIELD_RANGE", `${path} must be greater than 0 and at most ${Number.MAX_SAFE_INTEGER}.`);
  }
  return n;
}

function currency(transaction: Json, path: string): string {
  const value = requiredString(transaction, "currency", path);
  if (!CURRENCY_FORM.test(value)) {
    throw new AppError("FIELD_FORMAT", `${path} must be three upper-case letters (ISO 4217).`);
  }
  if (!ISO_4217.has(value))
    throw new AppError("CURRENCY_UNKNOWN", `${path} "${value}" is not an ISO 4217 currency code.`);
  return value;
}

function ipAddresses(consumer: Json): string[] {
  const value = consumer.ipAddresses;
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new AppError("FIELD_TYPE", "consumer.ipAddresses must be a list.");
  return value.map((item: unknown, i) => {
    const path = `consumer.ipAddresses[${i}]`;
    if (typeof item !== "string") throw new AppError("FIELD_TYPE", `${path} must be a string.`);
    checkLength(item, 7, 15, path);
    if (!isIPv4(item)) throw new AppError("FIELD_FORMAT", `${path} must be a dotted IPv4 address.`);
    return item;
  });
}

/**
 * Checks a sale or verification body against the documented contract, in the
 * order of the contract's parameter table, and returns the typed request.
 * Throws AppError (cause INVALID_REQUEST) naming the first field that breaks a rule.
 */
export function parseInitiateRequest(operation: Operation, body: unknown): InitiateRequest {
  if (!isObject(body)) throw new AppError("BODY_NOT_OBJECT", "The request body must be a JSON object.");
  const consumer = requiredObject(body, "consumer", "consumer");
  const device = requiredObject(consumer, "device", "consumer.device");
  const serialNumber = checkSerialNumber(device.serialNumber, "consumer.device.serialNumber");
  const transaction = requiredObject(body, "transaction", "transaction");
  const amountCentis = operation === "sale" ? amount(transaction, "transaction.amountCentis") : undefined;
  const currencyCode = currency(transaction, "transaction.currency");
  const session = requiredObject(body, "session", "session");
  const accessToken = requiredString(session, "accessToken", "session.accessToken");
  checkLength(accessToken, 32, 128, "session.accessToken");

  let imei: string | undefined;
  const rawImei = device.imei;
  if (rawImei !== undefined && rawImei !== null) {
    if (typeof rawImei !== "string") throw new AppError("FIELD_TYPE", "consumer.device.imei must be a string.");
    if (!IMEI.test(rawImei)) throw new AppError("FIELD_FORMAT", "consumer.device.imei must be 14-16 decimal digits.");
    imei = rawImei;
  }
  const where = optionalObject(body, "location", "location");
  const location = where && {
    lat: coordinate(where, "lat", "location.lat", 90),
    lng: coordinate(where, "lng", "location.lng", 180),
  };
  const ips = ipAddresses(consumer);
  return {
    operation,
    serialNumber,
    imei,
    ipAddresses: ips,
    location,
    accessToken,
    currency: currencyCode,
    amountCentis,
  };
}
