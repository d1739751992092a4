/**
 * Validation of TopTechPay's check sale / check verification bodies
 * (shared spec gateway.md). Like initiate, the input is the JSON-shaped value
 * any protocol carried, so every caller gets the same rules in the same order.
 */
import { AppError } from "./error-catalogue.js";
import { deviceSerialNumber, type Operation } from "./initiate-request.js";
import { checkedText, optionalObject, requiredObject, requiredText } from "./json-fields.js";

/** A check that passed every documented rule. */
export interface CheckRequest {
  readonly operation: Operation;
  readonly invoiceId: string;
  readonly serialNumber: string;
  readonly accessToken: string;
  readonly nonce: string;
  readonly signature: string;
  /** TopTechPay's session token (16-36 characters). */
  readonly token: string;
  /** Sale only: the card reference the app paid with. */
  readonly clientCardId: string | undefined;
}

/**
 * Checks a check body (with the path's invoice id in `invoiceId`) and returns
 * the typed request. Throws AppError (cause INVALID_REQUEST) naming the first
 * field that breaks a rule.
 */
export function parseCheckRequest(operation: Operation, body: unknown): CheckRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new AppError("BODY_NOT_OBJECT", "The request body must be a JSON object.");
  }
  const json = body as Record<string, unknown>;
  const invoiceId = requiredText(json, "invoiceId", "invoiceId", 1, 64);
  const serialNumber = deviceSerialNumber(json);
  const session = requiredObject(json, "session", "session");
  const accessToken = requiredText(session, "accessToken", "session.accessToken", 32, 128);
  const nonce = requiredText(session, "nonce", "session.nonce", 32, 128);
  const signature = requiredText(session, "signature", "session.signature", 32, 128);
  const token = requiredText(session, "token", "session.token", 16, 36);
  let clientCardId: string | undefined;
  const funds = operation === "sale" ? optionalObject(json, "sourceOfFunds", "sourceOfFunds") : undefined;
  const reference = funds && optionalObject(funds, "reference", "sourceOfFunds.reference");
  const rawCardId = reference?.clientCardId;
  if (rawCardId !== undefined && rawCardId !== null) {
    clientCardId = checkedText(rawCardId, "sourceOfFunds.reference.clientCardId", 1, 128);
  }
  return { operation, invoiceId, serialNumber, accessToken, nonce, signature, token, clientCardId };
}
