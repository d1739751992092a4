/**
 * The back office's view of cards (CardService, behind the API keys): one
 * device's cards, deleted ones when asked, and deleting one by its
 * clientCardId. What leaves here never holds TopTechPay's serverCardId or
 * uniqueReferenceCardId.
 */
import { clientCardIdArgument, serialNumberArgument } from "./card-request.js";
import type { CardStore, DeviceCard } from "./card-store.js";
import { cardNotFound, cardStoreFailure, MAX_LISTED_CARDS, type NoteCardFacts } from "./device-cards.js";
import { toAppError } from "./error-catalogue.js";
import type { Operation } from "./initiate-request.js";

/** A card as the back office sees it. */
export interface CardView {
  readonly clientCardId: string;
  readonly serialNumber: string;
  readonly bin: number | undefined;
  readonly operation: Operation;
  readonly invoiceId: string;
  readonly createdAt: Date;
  readonly deletedAt: Date | undefined;
}

/** One device's cards, oldest first. */
export interface CardListing {
  /** At most MAX_LISTED_CARDS, the oldest ones. */
  readonly cards: readonly CardView[];
  /** true when the device has more cards than `cards` holds. */
  readonly truncated: boolean;
}

/** What a listing shows. */
export interface ListOptions {
  /** true: deleted cards too. */
  readonly includeDeleted: boolean;
}

/** The back office's card calls. Each rejects with AppError only. */
export interface CardQueries {
  /** `serialNumber` is required (1-50 characters); `note` gets it once it is valid. */
  list(serialNumber: string, options: ListOptions, note?: NoteCardFacts): Promise<CardListing>;
  /**
   * Deletes a live card, durably; CARD_NOT_FOUND when unknown or already
   * deleted. `note` gets the clientCardId once it is valid, and the card's
   * device once found.
   */
  delete(clientCardId: string, note?: NoteCardFacts): Promise<CardView>;
}

/** What the back office may see of a stored card: everything but TopTechPay's references. */
export function cardView(c: DeviceCard): CardView {
  return {
    clientCardId: c.clientCardId,
    serialNumber: c.serialNumber,
    bin: c.bin,
    operation: c.operation,
    invoiceId: c.invoiceId,
    createdAt: c.createdAt,
    deletedAt: c.deletedAt,
  };
}

/** Builds the back office's card calls over the store. */
export function createCardQueries(store: CardStore, now: () => Date = () => new Date()): CardQueries {
  async function list(serialNumber: string, options: ListOptions, note?: NoteCardFacts): Promise<CardListing> {
    const serial = serialNumberArgument(serialNumber);
    note?.({ serialNumber: serial });
    const cards = await store.listCards(serial, { includeDeleted: options.includeDeleted }).catch(cardStoreFailure);
    return { cards: cards.slice(0, MAX_LISTED_CARDS).map(cardView), truncated: cards.length > MAX_LISTED_CARDS };
  }

  async function remove(clientCardId: string, note?: NoteCardFacts): Promise<CardView> {
    const id = clientCardIdArgument(clientCardId);
    note?.({ serialNumber: undefined, clientCardId: id });
    // Only a live card is deleted; undefined covers unknown and deleted alike.
    const deleted = await store.deleteCard(id, now()).catch(cardStoreFailure);
    if (!deleted) throw cardNotFound("no live card with this clientCardId (unknown or already deleted)");
    note?.({ serialNumber: deleted.serialNumber, clientCardId: id });
    return cardView(deleted);
  }

  return {
    list: (serialNumber, options, note) =>
      list(serialNumber, options, note).catch((e: unknown) => {
        throw toAppError(e);
      }),
    delete: (clientCardId, note) =>
      remove(clientCardId, note).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
