/**
 * Validation of the app's two card bodies, `POST /cards/list-cards` and
 * `POST /cards/delete-card` (DeviceCardService): the JSON-shaped value any
 * protocol carried, so every caller gets the same rules in the same order.
 * The device and the access token are read exactly as an initiate reads them.
 */
import { AppError } from "./error-catalogue.js";
import { checkSerialNumber, deviceSerialNumber } from "./initiate-request.js";
import { checkedText, checkLength, isObject, requiredObject, requiredString, requiredText } from "./json-fields.js";

/** Which of the app's card calls a body is for. */
export type CardAction = "list" | "delete";

/** The app's credential for its own device. */
export interface DeviceCredential {
  readonly serialNumber: string;
  readonly accessToken: string;
}

/** A list body that passed every rule. */
export type ListCardsRequest = DeviceCredential;

/** A delete body that passed every rule. */
export interface DeleteCardRequest extends DeviceCredential {
  readonly clientCardId: string;
}

/** The documented length of a clientCardId (as in a check's sourceOfFunds.reference). */
const CLIENT_CARD_ID_CHARS = { min: 1, max: 128 } as const;

function credential(body: unknown): { json: Record<string, unknown>; credential: DeviceCredential } {
  if (!isObject(body)) throw new AppError("BODY_NOT_OBJECT", "The request body must be a JSON object.");
  const serialNumber = deviceSerialNumber(body);
  // As initiate reads it: any text of the right length goes on to the token
  // check, whose answer (ACCESS_TOKEN_INVALID) is then the same as there.
  const session = requiredObject(body, "session", "session");
  const accessToken = requiredString(session, "accessToken", "session.accessToken");
  checkLength(accessToken, 32, 128, "session.accessToken");
  return { json: body, credential: { serialNumber, accessToken } };
}

/** Checks a list body; throws AppError (INVALID_REQUEST) naming the first field that breaks a rule. */
export function parseListCardsRequest(body: unknown): ListCardsRequest {
  return credential(body).credential;
}

/** Checks a delete body; throws AppError (INVALID_REQUEST) naming the first field that breaks a rule. */
export function parseDeleteCardRequest(body: unknown): DeleteCardRequest {
  const { json, credential: device } = credential(body);
  const card = requiredObject(json, "card", "card");
  const { min, max } = CLIENT_CARD_ID_CHARS;
  return { ...device, clientCardId: requiredText(card, "clientCardId", "card.clientCardId", min, max) };
}

/** Checks the body of either action (the RPC body check's one entry point). */
export function parseCardRequest(action: CardAction, body: unknown): ListCardsRequest | DeleteCardRequest {
  return action === "list" ? parseListCardsRequest(body) : parseDeleteCardRequest(body);
}

/** A back-office clientCardId (proto3 cannot tell "" from absent, so "" is missing). */
export function clientCardIdArgument(value: string): string {
  if (value === "") throw new AppError("FIELD_REQUIRED", "clientCardId is required.");
  return checkedText(value, "clientCardId", CLIENT_CARD_ID_CHARS.min, CLIENT_CARD_ID_CHARS.max);
}

/** A back-office serialNumber, by the initiate rule ("" is missing, as above). */
export function serialNumberArgument(value: string): string {
  if (value === "") throw new AppError("FIELD_REQUIRED", "serialNumber is required.");
  return checkSerialNumber(value, "serialNumber");
}
