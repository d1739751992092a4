/**
 * Checking a JSON body of a GatewayService method (Connect JSON, gRPC with
 * JSON) before connect decodes it. A body protobuf-es's fromJson refuses as a
 * whole (a lone UTF-16 surrogate in a string, a value of the wrong type) is
 * run through the core's check validator first, so the error names the field
 * and the rule exactly as the JSON check paths do (FIELD_FORMAT for a lone
 * surrogate, not a generic FIELD_TYPE).
 */
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { parseCheckRequest } from "../core/check-request.js";
import { AppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import { isObject } from "../core/json-fields.js";

/** The raw JSON with proto field names (`serial_number`) spelled as JSON names, as the core reads them. */
function withJsonNames(desc: DescMessage, value: unknown): unknown {
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) {
      out[key] = item;
      continue;
    }
    // The JSON name wins when both are given.
    if (field.jsonName !== key && field.jsonName in value) continue;
    out[field.jsonName] = field.fieldKind === "message" ? withJsonNames(field.message, item) : item;
  }
  return out;
}

/** Throws the AppError a JSON check path would give when `raw` is not a valid `input` in proto3 JSON. */
export function checkCheckJson(operation: Operation, input: DescMessage, raw: unknown): void {
  try {
    fromJson(input, raw as JsonValue);
  } catch (e) {
    parseCheckRequest(operation, withJsonNames(input, raw));
    throw new AppError("FIELD_TYPE", `The request body is not a valid ${input.typeName} in proto3 JSON.`, {
      logDetail: e instanceof Error ? e.message : String(e),
    });
  }
}
