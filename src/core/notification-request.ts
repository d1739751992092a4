/**
 * Validation of TopTechPay's card mapping notifications (sale and
 * verification; shared spec gateway.md). Like the check, the input is the
 * JSON-shaped value any protocol carried: the parsed JSON body (with the
 * path's invoice id in `invoiceId` for the `/{invoiceId}/notification`
 * form), or an RPC message with the same field names.
 */
import { AppError } from "./error-catalogue.js";
import { deviceSerialNumber, type Operation } from "./initiate-request.js";
import {
  checkedText,
  isObject,
  type Json,
  optionalInteger,
  optionalObject,
  requiredObject,
  requiredText,
} from "./json-fields.js";

/** TopTechPay's reference of the card the consumer paid with. */
export interface NotifiedReference {
  /** 1-64 characters (a decimal string in practice). Never logged. */
  readonly serverCardId: string;
  /** Decimal text of a 64-bit integer; undefined when absent or not exactly readable. */
  readonly uniqueReferenceCardId: string | undefined;
}

/** A notification that passed every documented rule. */
export interface NotificationRequest {
  readonly operation: Operation;
  /** The path's invoice id (`/sale/{invoiceId}/notification`); undefined for `/sale/notification`. */
  readonly invoiceId: string | undefined;
  readonly serialNumber: string;
  readonly accessToken: string;
  /** TopTechPay's session token, bound at the session's check. */
  readonly token: string;
  readonly bin: number | undefined;
  /** Undefined when the body names no card: nothing is stored. */
  readonly reference: NotifiedReference | undefined;
}

function bin(card: Json | undefined): number | undefined {
  const read = card && optionalInteger(card, "bin", "sourceCard.bin");
  if (read === undefined) return undefined;
  if (read.value < 0n || read.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new AppError("FIELD_RANGE", `sourceCard.bin must be between 0 and ${Number.MAX_SAFE_INTEGER}.`);
  }
  return Number(read.value);
}

function reference(parent: Json, path: string): NotifiedReference | undefined {
  const ref = optionalObject(parent, "reference", path);
  if (ref === undefined) return undefined;
  const unique = optionalInteger(ref, "uniqueReferenceCardId", `${path}.uniqueReferenceCardId`);
  const rawId = ref.serverCardId;
  // A reference without the gateway's id names no card to keep.
  if (rawId === undefined || rawId === null) return undefined;
  return {
    serverCardId: checkedText(rawId, `${path}.serverCardId`, 1, 64),
    // The field is informational (nothing reads it yet): a JSON number past
    // 2^53 arrives rounded, and wrong digits are worse than none, so the
    // card is kept without it rather than refused.
    uniqueReferenceCardId: unique?.exact ? unique.value.toString() : undefined,
  };
}

/**
 * Checks a notification body and returns the typed request. Throws AppError
 * (cause INVALID_REQUEST) naming the first field that breaks a rule. A sale
 * carries its reference in `sourceCard.reference`, a verification at the top
 * level (`reference`); the other place is not read.
 */
export function parseNotificationRequest(operation: Operation, body: unknown): NotificationRequest {
  if (!isObject(body)) throw new AppError("BODY_NOT_OBJECT", "The request body must be a JSON object.");
  const rawInvoice = body.invoiceId;
  const invoiceId =
    rawInvoice === undefined || rawInvoice === null ? undefined : checkedText(rawInvoice, "invoiceId", 1, 64);
  const serialNumber = deviceSerialNumber(body);
  const session = requiredObject(body, "session", "session");
  const accessToken = requiredText(session, "accessToken", "session.accessToken", 32, 128);
  const token = requiredText(session, "token", "session.token", 16, 36);
  const sourceCard = optionalObject(body, "sourceCard", "sourceCard");
  return {
    operation,
    invoiceId,
    serialNumber,
    accessToken,
    token,
    bin: bin(sourceCard),
    reference:
      operation === "sale" ? sourceCard && reference(sourceCard, "sourceCard.reference") : reference(body, "reference"),
  };
}
