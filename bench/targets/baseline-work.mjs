/**
 * The work every baseline does for one sale, taken from this server's own
 * built core so the rules are identical: the same validation
 * (parseInitiateRequest), the same nonce and invoice id (UUIDv7), the same HMAC-SHA1
 * signature and the same JSON answer. No store: the baselines show what Node
 * allows without durability.
 */
import { AppError, toAppError } from "../../dist/src/core/error-catalogue.js";
import { parseInitiateRequest } from "../../dist/src/core/initiate-request.js";
import { drawNonce, newInvoiceId } from "../../dist/src/core/session-ids.js";
import { controlKeyFromText, signSession } from "../../dist/src/core/signature.js";

/** The endpoint every target is configured with (the spec's worked example key). */
export const BENCH_ENDPOINT = { id: "1111", controlKeyText: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20" };
const ACCEPTED = new Set(["EUR", "USD"]);
const key = controlKeyFromText(BENCH_ENDPOINT.controlKeyText);

/**
 * Runs one sale on a JSON-shaped body. Returns the documented answer or
 * throws AppError, exactly like the server's core minus the store.
 */
export function initiateSale(body) {
  const request = parseInitiateRequest("sale", body);
  if (!ACCEPTED.has(request.currency)) {
    throw new AppError("CURRENCY_NOT_ACCEPTED", `No endpoint accepts sale in ${request.currency}.`);
  }
  const invoiceId = newInvoiceId();
  const nonce = drawNonce();
  const signature = signSession(key, {
    accessToken: request.accessToken,
    serialNumber: request.serialNumber,
    endpointId: BENCH_ENDPOINT.id,
    nonce,
    invoiceId,
    amountCentis: request.amountCentis,
    currency: request.currency,
  });
  return { endpointId: BENCH_ENDPOINT.id, invoiceId, session: { nonce, signature } };
}

/** Turns anything thrown into the documented error (status and body). */
export function errorAnswer(e) {
  const error = toAppError(e);
  return { status: error.spec.httpStatus, body: error.toBody(), connectCode: error.spec.connectCode, error };
}

/** Tells the orchestrator where the target listens (it reads stdout). */
export function announce(url) {
  process.stdout.write(`${JSON.stringify({ msg: "listening", url, pid: process.pid })}\n`);
}

/** Exits cleanly on SIGTERM so peak RSS and profiles are taken at a known point. */
export function exitOnSignal(close) {
  const stop = () => Promise.resolve(close()).finally(() => process.exit(0));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
