/**
 * The gateway's signatures, computed here with node:crypto straight from the
 * spec (spec/README.md "Signature computation", spec/gateway.md) and never with
 * the server's own code: the simulator is a second, independent reading of the
 * contract, so a server that computes them wrongly fails its steps.
 */
import { createHash, createHmac } from "node:crypto";

const CONTROL_KEY_HEX = /^(?:[0-9A-Fa-f]{2})+$/;

/** Whether `text` can be a control key: hexadecimal bytes, dashes allowed anywhere. */
export function isControlKey(text: string): boolean {
  return CONTROL_KEY_HEX.test(text.replaceAll("-", ""));
}

/**
 * HMAC-SHA1 keyed with the control key's bytes (dashes removed, hex decoded)
 * over the plain concatenation of `parts`, as 40 upper-case hex digits.
 */
export function hmacSha1(controlKey: string, parts: readonly string[]): string {
  const key = Buffer.from(controlKey.replaceAll("-", ""), "hex");
  return createHmac("sha1", key).update(parts.join(""), "utf8").digest("hex").toUpperCase();
}

/** What the initiate's `signature` covers; `amountCentis` only for a sale. */
export interface InitiateSigned {
  readonly accessToken: string;
  readonly serialNumber: string;
  readonly endpointId: string;
  readonly nonce: string;
  readonly invoiceId: string;
  readonly amountCentis?: number | undefined;
  readonly currency: string;
}

/** accessToken + serialNumber + endpointId + nonce + invoiceId (+ amountCentis) + currency. */
export function initiateSignature(controlKey: string, f: InitiateSigned): string {
  const amount = f.amountCentis === undefined ? "" : String(f.amountCentis);
  return hmacSha1(controlKey, [f.accessToken, f.serialNumber, f.endpointId, f.nonce, f.invoiceId, amount, f.currency]);
}

/** serialNumber + nonce + endpointId + invoiceId (+ serverCardId when the answer carries one). */
export function checkSignature(
  controlKey: string,
  f: { serialNumber: string; nonce: string; endpointId: string; invoiceId: string; serverCardId?: string | undefined },
): string {
  return hmacSha1(controlKey, [f.serialNumber, f.nonce, f.endpointId, f.invoiceId, f.serverCardId ?? ""]);
}

/** A card mapping notification's answer: nonce + endpointId + invoiceId. */
export function notificationSignature(
  controlKey: string,
  f: { nonce: string; endpointId: string; invoiceId: string },
): string {
  return hmacSha1(controlKey, [f.nonce, f.endpointId, f.invoiceId]);
}

/**
 * The final-status callback's `control`: plain SHA-1, lower-case hex, of
 * status + orderid + client_orderid + the control key as text (dashes kept).
 */
export function callbackControl(
  controlKey: string,
  f: { status: string; orderid: string; clientOrderid: string },
): string {
  return createHash("sha1")
    .update(f.status + f.orderid + f.clientOrderid + controlKey, "utf8")
    .digest("hex");
}
