/**
 * The session signature of the gateway's "Signature computation": HMAC-SHA1
 * keyed with the bytes of the endpoint's control key, over the plain
 * concatenation of the documented values, as 40 upper-case hex characters.
 */
import { createHmac, createSecretKey, type KeyObject } from "node:crypto";

const CONTROL_KEY_HEX = /^(?:[0-9A-Fa-f]{2})+$/;

/**
 * Turns a control key as the gateway prints it (`B17F59B4-A7DC-...`) into a
 * secret key: dashes removed, the hexadecimal text decoded to bytes. Throws a
 * message without the key itself when the text is not whole hex bytes.
 */
export function controlKeyFromText(text: string): KeyObject {
  const hex = text.replaceAll("-", "");
  if (!CONTROL_KEY_HEX.test(hex)) {
    throw new Error("a control key must be hexadecimal digits (dashes allowed), an even number of them");
  }
  return createSecretKey(Buffer.from(hex, "hex"));
}

/** The values a signature covers, in their documented order. */
export interface SignedFields {
  readonly accessToken: string;
  readonly serialNumber: string;
  readonly endpointId: string;
  readonly nonce: string;
  readonly invoiceId: string;
  /** Present for a sale (base-10 minor units); absent for a verification. */
  readonly amountCentis: number | undefined;
  readonly currency: string;
}

/**
 * Computes the signature. For a sale the message is accessToken +
 * serialNumber + endpointId + nonce + invoiceId + amountCentis + currency; a
 * verification leaves out the amount.
 */
export function signSession(key: KeyObject, f: SignedFields): string {
  const amount = f.amountCentis === undefined ? "" : String(f.amountCentis);
  return createHmac("sha1", key)
    .update(f.accessToken + f.serialNumber + f.endpointId + f.nonce + f.invoiceId + amount + f.currency, "utf8")
    .digest("hex")
    .toUpperCase();
}

/** The values a check answer's `checkSignature` covers, in their documented order. */
export interface CheckSignedFields {
  readonly serialNumber: string;
  readonly nonce: string;
  readonly endpointId: string;
  readonly invoiceId: string;
  /** Only when the answer carries one (a sale paid with a card reference). */
  readonly serverCardId: string | undefined;
}

/**
 * The check answer's signature (gateway.md): HMAC-SHA1 under the same key, in
 * the same form, over serialNumber + nonce + endpointId + invoiceId
 * (+ serverCardId).
 */
export function signCheck(key: KeyObject, f: CheckSignedFields): string {
  return createHmac("sha1", key)
    .update(f.serialNumber + f.nonce + f.endpointId + f.invoiceId + (f.serverCardId ?? ""), "utf8")
    .digest("hex")
    .toUpperCase();
}

/** The values a card mapping notification answer's `checkSignature` covers, in their documented order. */
export interface NotificationSignedFields {
  readonly nonce: string;
  readonly endpointId: string;
  readonly invoiceId: string;
}

/**
 * The card mapping notification answer's signature (gateway.md): HMAC-SHA1
 * under the same key, in the same form, over nonce + endpointId + invoiceId.
 */
export function signNotification(key: KeyObject, f: NotificationSignedFields): string {
  return createHmac("sha1", key)
    .update(f.nonce + f.endpointId + f.invoiceId, "utf8")
    .digest("hex")
    .toUpperCase();
}
