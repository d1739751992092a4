/**
 * Checking a JSON body of a GatewayService method (Connect JSON, gRPC with
 * JSON) before connect decodes it. A body protobuf-es's fromJson refuses as a
 * whole (a lone UTF-16 surrogate in a string, a value of the wrong type) is
 * run through the core's validator of that method first (the check's or the
 * notification's), so the error names the field and the rule exactly as the
 * JSON paths do (FIELD_FORMAT for a lone surrogate, not a generic FIELD_TYPE).
 */
import { type DescMessage, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { parseCheckRequest } from "../core/check-request.js";
import { AppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import { parseNotificationRequest } from "../core/notification-request.js";
import { withJsonNames } from "./json-names.js";

/** Throws the AppError `validate` gives, else FIELD_TYPE, when `raw` is not a valid `input` in proto3 JSON. */
function checkGatewayJson(validate: (json: unknown) => unknown, input: DescMessage, raw: unknown): void {
  try {
    fromJson(input, raw as JsonValue);
  } catch (e) {
    validate(withJsonNames(input, raw));
    throw new AppError("FIELD_TYPE", `The request body is not a valid ${input.typeName} in proto3 JSON.`, {
      logDetail: e instanceof Error ? e.message : String(e),
    });
  }
}

/** Throws the AppError a JSON check path would give when `raw` is not a valid `input` in proto3 JSON. */
export function checkCheckJson(operation: Operation, input: DescMessage, raw: unknown): void {
  checkGatewayJson((json) => parseCheckRequest(operation, json), input, raw);
}

/** Throws the AppError a JSON notification path would give when `raw` is not a valid `input` in proto3 JSON. */
export function checkNotificationJson(operation: Operation, input: DescMessage, raw: unknown): void {
  checkGatewayJson((json) => parseNotificationRequest(operation, json), input, raw);
}
