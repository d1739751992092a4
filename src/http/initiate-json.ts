/**
 * Decoding of InitiateService's JSON bodies (Connect JSON and gRPC with JSON),
 * shared by connect's own path (rpc-adapter.ts) and the lean Connect route.
 *
 * protobuf-es's fromJson follows proto3 JSON leniently where the contract is
 * strict: an int64 is read by BigInt(), which takes "0x10", " 45" and "" (as 0),
 * and a double also takes a numeric string ("45", "1e1"). Once decoded, the
 * message no longer shows which form was sent, so the raw JSON is looked at
 * first: a sale's `amountCentis` string must be a plain decimal integer and
 * `lat`/`lng` must be JSON numbers, exactly as on the JSON paths.
 */
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { AppError } from "../core/error-catalogue.js";
import { type Operation, parseInitiateRequest } from "../core/initiate-request.js";
import { isObject } from "../core/json-fields.js";
import { withJsonNames } from "./json-names.js";

// proto3 JSON's int64 string as the contract allows it (the core's rule).
const PLAIN_INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
/**
 * True when a number field holds a form fromJson would take but the contract
 * does not. Reads both spellings in place: this runs for every call, the
 * renaming copy only for a refused one.
 */
function hasLenientNumber(operation: Operation, json: unknown): boolean {
  if (!isObject(json)) return false;
  const transaction = json.transaction;
  if (operation === "sale" && isObject(transaction)) {
    const amount = transaction.amountCentis ?? transaction.amount_centis;
    if (typeof amount === "string" && !PLAIN_INTEGER.test(amount)) return true;
  }
  const location = json.location;
  return isObject(location) && (typeof location.lat === "string" || typeof location.lng === "string");
}

/**
 * Decodes a JSON body of an InitiateService method as proto3 JSON (which also
 * allows the proto field names, such as "serial_number"). A body that breaks
 * the contract where fromJson is lenient, or that protobuf-es cannot decode,
 * is run through the core's validator, so the AppError thrown names the field
 * and the rule (and the first broken one, in the contract's order), as on the
 * JSON paths.
 */
export function decodeInitiateJson(operation: Operation, input: DescMessage, raw: unknown): unknown {
  if (hasLenientNumber(operation, raw)) {
    // The core refuses these forms; it throws the same error a JSON path gets.
    parseInitiateRequest(operation, withJsonNames(input, raw));
  }
  try {
    return fromJson(input, raw as JsonValue, { ignoreUnknownFields: true });
  } catch (e) {
    // A lone surrogate in a string ends here too (fromJson checks UTF-8 form).
    parseInitiateRequest(operation, withJsonNames(input, raw));
    throw new AppError("FIELD_TYPE", `The request body is not a valid ${input.typeName} in proto3 JSON.`, {
      logDetail: e instanceof Error ? e.message : String(e),
    });
  }
}
