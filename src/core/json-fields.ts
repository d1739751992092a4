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
