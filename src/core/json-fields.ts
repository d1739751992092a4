/**
 * Readers for fields of a JSON-shaped request body, shared by every request
 * the core validates, so each rule (null as absent, type, length in
 * characters, no control characters, no lone surrogates) is written once and
 * answers with the same codes everywhere.
 */
import { AppError } from "./error-catalogue.js";

/** A JSON object as parsed. */
export type Json = Record<string, unknown>;

// Unicode "Cc": the C0 and C1 control characters and DEL.
const CONTROL_CHARS = /\p{Cc}/u;
// A UTF-16 surrogate not paired with its other half (the "u" flag matches a
// pair as one code point, so only a lone half is seen as category Cs). Such a
// string has no UTF-8 form: stored it would come back as U+FFFD and no longer
// match what was signed.
const LONE_SURROGATE = /\p{Cs}/u;

/** Whether a value is a JSON object (not an array, not null). */
export function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Length in characters (code points, not UTF-16 units), as the contracts count. */
function charLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Reads a required object; null counts as absent, as in proto3 JSON. */
export function requiredObject(parent: Json, key: string, path: string): Json {
  const value = parent[key];
  if (value === undefined || value === null) throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  if (!isObject(value)) throw new AppError("FIELD_TYPE", `${path} must be an object.`);
  return value;
}

/** Reads an optional object; null counts as absent. */
export function optionalObject(parent: Json, key: string, path: string): Json | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new AppError("FIELD_TYPE", `${path} must be an object.`);
  return value;
}

/** Throws FIELD_LENGTH unless `value` has min-max characters. */
export function checkLength(value: string, min: number, max: number, path: string): void {
  const n = charLength(value);
  if (n < min || n > max) {
    throw new AppError("FIELD_LENGTH", `${path} must be ${min}-${max} characters long (got ${n}).`);
  }
}

/** Refuses a text holding a lone UTF-16 surrogate (FIELD_FORMAT): it has no UTF-8 form. */
function checkWellFormed(value: string, path: string): void {
  if (LONE_SURROGATE.test(value)) {
    throw new AppError("FIELD_FORMAT", `${path} must be valid Unicode text (it holds a lone UTF-16 surrogate).`);
  }
}

/**
 * A present value as documented text: a string of min-max characters with no
 * control characters and no lone surrogates.
 */
export function checkedText(value: unknown, path: string, min: number, max: number): string {
  if (typeof value !== "string") throw new AppError("FIELD_TYPE", `${path} must be a string.`);
  checkLength(value, min, max, path);
  if (CONTROL_CHARS.test(value)) throw new AppError("FIELD_FORMAT", `${path} must not contain control characters.`);
  checkWellFormed(value, path);
  return value;
}

/** A required value as documented text (see checkedText); null counts as absent. */
export function requiredTextValue(value: unknown, path: string, min: number, max: number): string {
  if (value === undefined || value === null) throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  return checkedText(value, path, min, max);
}

/** A required text field (see checkedText). */
export function requiredText(parent: Json, key: string, path: string, min: number, max: number): string {
  return requiredTextValue(parent[key], path, min, max);
}

/** A required string of any length and characters, but well-formed; its caller checks its form. */
export function requiredString(parent: Json, key: string, path: string): string {
  const value = parent[key];
  if (value === undefined || value === null) throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  if (typeof value !== "string") throw new AppError("FIELD_TYPE", `${path} must be a string.`);
  checkWellFormed(value, path);
  return value;
}

// A plain decimal integer, as proto3 JSON writes an int64: no sign but minus, no leading zeros.
const INTEGER_TEXT = /^-?(?:0|[1-9][0-9]*)$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Reads an optional 64-bit integer: a JSON number that is a whole number, a
 * plain decimal string (proto3 JSON's form of an int64) or a bigint (an RPC
 * message's int64); null counts as absent. `exact` is false for a JSON
 * number past 2^53: JSON.parse already rounded it, so its digits are not
 * the sender's.
 */
export function optionalInteger(
  parent: Json,
  key: string,
  path: string,
): { readonly value: bigint; readonly exact: boolean } | undefined {
  const raw = parent[key];
  if (raw === undefined || raw === null) return undefined;
  let value: bigint;
  let exact = true;
  if (typeof raw === "bigint") value = raw;
  else if (typeof raw === "number") {
    if (!Number.isInteger(raw)) throw new AppError("FIELD_FORMAT", `${path} must be a whole number.`);
    value = BigInt(raw);
    exact = Number.isSafeInteger(raw);
  } else if (typeof raw === "string") {
    if (!INTEGER_TEXT.test(raw)) {
      throw new AppError("FIELD_FORMAT", `${path} must be a whole number: a JSON integer or a decimal integer string.`);
    }
    value = BigInt(raw);
  } else {
    throw new AppError("FIELD_TYPE", `${path} must be a number or an integer string.`);
  }
  if (value < INT64_MIN || value > INT64_MAX) {
    throw new AppError("FIELD_RANGE", `${path} must fit a 64-bit signed integer.`);
  }
  return { value, exact };
}
