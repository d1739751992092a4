/**
 * Checking a JSON body of an RPC method whose JSON path has a core validator
 * (GatewayService's checks and notifications, DeviceCardService) before
 * connect decodes it. A body protobuf-es's fromJson refuses as a whole (a lone
 * UTF-16 surrogate in a string, a value of the wrong type) is run through the
 * core's validator of that method first, so the error names the field and the
 * rule exactly as the JSON paths do (FIELD_FORMAT for a lone surrogate, not a
 * generic FIELD_TYPE).
 */
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { type CardAction, parseCardRequest } from "../core/card-request.js";
import { parseCheckRequest } from "../core/check-request.js";
import { AppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import { parseNotificationRequest } from "../core/notification-request.js";
import { withJsonNames } from "./json-names.js";

/**
 * Throws the AppError `validate` gives the body (by JSON names) when `raw` is
 * not a valid `input` in proto3 JSON, or FIELD_TYPE when the validator takes it.
 */
function refuseLikeJsonPath(
  input: DescMessage,
  raw: unknown,
  validate: (body: unknown) => unknown,
  options?: { readonly ignoreUnknownFields: boolean },
): void {
  try {
    fromJson(input, raw as JsonValue, options);
  } catch (e) {
    validate(withJsonNames(input, raw));
    throw new AppError("FIELD_TYPE", `The request body is not a valid ${input.typeName} in proto3 JSON.`, {
      logDetail: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Throws the AppError a JSON check path would give when `raw` is not a valid `input` in proto3 JSON. */
export function checkCheckJson(operation: Operation, input: DescMessage, raw: unknown): void {
  refuseLikeJsonPath(input, raw, (body) => parseCheckRequest(operation, body));
}

/** Throws the AppError a JSON notification path would give when `raw` is not a valid `input` in proto3 JSON. */
export function checkNotificationJson(operation: Operation, input: DescMessage, raw: unknown): void {
  refuseLikeJsonPath(input, raw, (body) => parseNotificationRequest(operation, body));
}

/**
 * Throws the AppError a JSON card path would give when `raw` is not a valid
 * `input` in proto3 JSON. Unknown fields pass, as on the JSON paths and in
 * connect's own decoding.
 */
export function checkCardJson(action: CardAction, input: DescMessage, raw: unknown): void {
  refuseLikeJsonPath(input, raw, (body) => parseCardRequest(action, body), { ignoreUnknownFields: true });
}
