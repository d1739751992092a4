/**
 * Calling GatewayService as internal callers do, for the RPC tests: a
 * grpc-js call's result or a Connect JSON call by plain fetch, turned into
 * one outcome shape, so a test can assert that every transport answers the
 * same ErrorDetail (and that each protocol's own code and status match the
 * catalogue).
 */
import * as grpc from "@grpc/grpc-js";
import { expect } from "vitest";
import { ERROR_CATALOGUE, type ErrorCode } from "../../src/core/error-catalogue.js";
import { type Detail, decodeErrorDetail, type GrpcFailure } from "./grpc-js-client.js";

// grpc-js status of each catalogue connect code.
const GRPC_CODE: Record<string, number> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  not_found: grpc.status.NOT_FOUND,
  permission_denied: grpc.status.PERMISSION_DENIED,
  already_exists: grpc.status.ALREADY_EXISTS,
  unauthenticated: grpc.status.UNAUTHENTICATED,
};
// The Connect protocol's HTTP status for each code (connectrpc.com/docs/protocol#error-codes).
const CONNECT_HTTP: Record<string, number> = {
  invalid_argument: 400,
  not_found: 404,
  permission_denied: 403,
  already_exists: 409,
  unauthenticated: 401,
};

/** What carried a call. */
export type Transport = "json" | "grpc" | "connect";
/** Every transport a gateway call is tried over. */
export const TRANSPORTS: readonly Transport[] = ["json", "grpc", "connect"];

/** What a call gave, the same shape whatever carried it. */
export type Outcome =
  | { ok: true; answer: Record<string, unknown> }
  | { ok: false; code: string; cause: string; message: string; transport: Transport };

/** A grpc-js result as an outcome, its status and status details checked against the catalogue. */
export function grpcOutcome(
  out: { ok: true; value: Record<string, unknown> } | ({ ok: false } & GrpcFailure),
): Outcome & { grpcStatus?: number } {
  if (out.ok) return { ok: true, answer: out.value };
  const detail = out.detail as Detail;
  expect(detail, `ErrorDetail of ${out.details}`).toBeDefined();
  const spec = ERROR_CATALOGUE[detail.code as ErrorCode];
  expect(out.code).toBe(GRPC_CODE[spec.connectCode]);
  expect(out.statusCode).toBe(out.code);
  expect(detail.message).toBe(decodeURIComponent(out.details));
  return { ok: false, ...detail, transport: "grpc", grpcStatus: out.code };
}

/** A Connect unary call with JSON (`application/json`), by plain fetch. */
export async function connectCall(
  url: string,
  path: string,
  message: unknown,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(message),
  });
  const text = await res.text();
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const json = JSON.parse(text);
  if (res.status === 200) return { ok: true, answer: json };
  // {"code","message","details":[{"type","value"}]}: the ErrorDetail travels base64-encoded.
  expect(json.details, text).toHaveLength(1);
  expect(json.details[0].type).toBe("toptechpay.initiate.v1.ErrorDetail");
  const detail = decodeErrorDetail(Buffer.from(json.details[0].value, "base64"));
  const spec = ERROR_CATALOGUE[detail.code as ErrorCode];
  expect({ code: json.code, status: res.status }).toEqual({
    code: spec.connectCode,
    status: CONNECT_HTTP[spec.connectCode],
  });
  expect(json.message).toBe(detail.message);
  return { ok: false, ...detail, transport: "connect" };
}

/** A refusal's ErrorDetail with the invoice id taken out, to compare it across transports. */
export function expectRefused(out: Outcome, code: ErrorCode, invoiceId: string): string {
  expect(out.ok, `expected ${code}`).toBe(false);
  if (out.ok) return "";
  expect({ code: out.code, cause: out.cause }).toEqual({ code, cause: ERROR_CATALOGUE[code].cause });
  return out.message.replaceAll(invoiceId, "<invoice>");
}
