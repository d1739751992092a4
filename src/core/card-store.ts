/**
 * Card references: what TopTechPay's card mapping notification delivers
 * (its `serverCardId` for a card the consumer paid with), kept per device
 * under a `clientCardId` this server draws. The app only ever sees the
 * clientCardId; the serverCardId goes back only to TopTechPay, in the answer
 * to a repeat sale's check (shared spec gateway.md).
 */
import type { Operation } from "./initiate-request.js";

/** One stored card reference of one device. */
export interface DeviceCard {
  /** Drawn by this server: URL-safe, unguessable; the only name the app and the logs know. */
  readonly clientCardId: string;
  readonly serialNumber: string;
  /** TopTechPay's reference (1-64 characters). Never answered to the app, never logged. */
  readonly serverCardId: string;
  /** The gateway's id of the card number, as decimal text (a Java long). */
  readonly uniqueReferenceCardId: string | undefined;
  /** The card's BIN, when the notification carried it. */
  readonly bin: number | undefined;
  /** Which notification stored it. */
  readonly operation: Operation;
  /** The session whose notification stored it. */
  readonly invoiceId: string;
  readonly createdAt: Date;
  /** Set when the app or the back office deleted it; a deleted card is never used again. */
  readonly deletedAt: Date | undefined;
}

/** What card references ask of the store. Rejects with StoreUnavailableError when unreachable. */
export interface CardStore {
  /**
   * Stores `card` unless its device already has a live (not deleted) card
   * with the same serverCardId; durable before it resolves. Resolves with the
   * live card, the one stored now or the one found, and whether it was stored now.
   */
  saveCard(card: DeviceCard): Promise<{ readonly card: DeviceCard; readonly created: boolean }>;
  /** The card with this clientCardId, deleted or not; undefined when unknown. */
  findCard(clientCardId: string): Promise<DeviceCard | undefined>;
  /** A device's cards, oldest first; deleted ones only when asked. */
  listCards(serialNumber: string, options: { readonly includeDeleted: boolean }): Promise<DeviceCard[]>;
  /**
   * Marks a live card deleted, durably. Resolves with the card as deleted,
   * or undefined when there is no such live card.
   */
  deleteCard(clientCardId: string, at: Date): Promise<DeviceCard | undefined>;
}
