/**
 * What every step of one run shares, and the values the simulator draws in
 * TopTechPay's place: its session tokens, order ids and card references.
 */
import { randomBytes, randomInt } from "node:crypto";
import type { SimulatorOptions } from "./args.js";
import type { Reporter } from "./report.js";

/** One run's options, output and the app's access token (set by the token step). */
export interface RunContext {
  readonly options: SimulatorOptions;
  readonly report: Reporter;
  accessToken: string;
}

/** A session as the app got it from its initiate. */
export interface Initiated {
  readonly operation: "sale" | "verification";
  readonly invoiceId: string;
  readonly endpointId: string;
  readonly nonce: string;
  readonly signature: string;
  /** Sales only. */
  readonly amountCentis: number | undefined;
  readonly currency: string;
}

/** A card reference as TopTechPay creates it. */
export interface GatewayCard {
  readonly bin: number;
  readonly serverCardId: string;
  readonly uniqueReferenceCardId: number;
}

/** The sale's amount (10.15 EUR) and the currency of both operations. */
export const SALE_AMOUNT_CENTIS = 1015;
/** The currency of every session the simulator starts. */
export const CURRENCY = "EUR";
/** The bin of every card the simulator's TopTechPay reports. */
export const CARD_BIN = 411111;

/** A TopTechPay session token (24 characters; the spec allows 16-36). */
export function drawGatewayToken(report: Reporter): string {
  return report.secret(`sim${randomBytes(15).toString("base64url")}`);
}

/** A gateway order id, decimal as the gateway's are. */
export function drawOrderId(): string {
  return String(randomInt(100_000_000, 1_000_000_000));
}

/** A card reference: a decimal serverCardId (kept secret in the output) and a numeric unique reference. */
export function drawCard(report: Reporter): GatewayCard {
  return {
    bin: CARD_BIN,
    serverCardId: report.secret(String(randomInt(100_000_000_000, 1_000_000_000_000))),
    uniqueReferenceCardId: randomInt(100_000_000, 2_000_000_000),
  };
}
