/**
 * The app's own cards: list a device's live cards and delete one, with the
 * device's access token, whatever protocol carried the call
 * (`POST /cards/list-cards`, `POST /cards/delete-card`, DeviceCardService).
 * The app only ever sees a card's clientCardId, its BIN and its times:
 * TopTechPay's serverCardId and uniqueReferenceCardId stay in the store.
 */
import type { TokenPresentation } from "./access-tokens.js";
import { parseDeleteCardRequest, parseListCardsRequest } from "./card-request.js";
import type { CardStore, DeviceCard } from "./card-store.js";
import { AppError, toAppError } from "./error-catalogue.js";
import { rethrowStoreFailure } from "./store-failure.js";

/**
 * The most cards one listing answers, the oldest ones. A device has a
 * handful (one per card number it paid with), so this is a bound on the
 * answer's size, not a page: past it the newest are left out.
 */
export const MAX_LISTED_CARDS = 500;

/** A card as the app sees it. */
export interface AppCardView {
  readonly clientCardId: string;
  /** Undefined when the notification carried no BIN. */
  readonly bin: number | undefined;
  readonly createdAt: Date;
}

/** A card the app just deleted. */
export interface DeletedCardView {
  readonly clientCardId: string;
  readonly deletedAt: Date;
}

/** What a call is about, for its log line: never the access token. */
export interface CardFacts {
  /** Undefined until known (a back-office delete learns it from the card). */
  readonly serialNumber: string | undefined;
  readonly clientCardId?: string;
}

/** Called once the body is valid, before anything else, so a refusal's log line names the device and card. */
export type NoteCardFacts = (facts: CardFacts) => void;

/** The app's card calls. Each rejects with AppError only. */
export interface DeviceCards {
  /** The device's live cards, oldest first, at most MAX_LISTED_CARDS. */
  list(body: unknown, note?: NoteCardFacts): Promise<{ readonly cards: readonly AppCardView[] }>;
  /** Deletes one live card of the device, durably; CARD_NOT_FOUND for any other card. */
  delete(body: unknown, note?: NoteCardFacts): Promise<{ readonly card: DeletedCardView }>;
}

/** What the app's card calls need. */
export interface DeviceCardsDeps {
  readonly store: CardStore;
  /** The token service's check (access-tokens.ts): ACCESS_TOKEN_INVALID unless the token is the device's. */
  readonly checkAccessToken: (presented: TokenPresentation) => Promise<void>;
  readonly now?: () => Date;
}

/** A store failure as the caller's STORE_UNAVAILABLE. */
export const cardStoreFailure = (e: unknown): never =>
  rethrowStoreFailure(e, "The card store is unavailable. Retry later.");

/**
 * CARD_NOT_FOUND with one public message for every reason (unknown, deleted,
 * another device's), so a caller cannot probe other devices' card ids; the
 * reason goes to the log only.
 */
export function cardNotFound(reason: string): AppError {
  return new AppError("CARD_NOT_FOUND", "No live card with this clientCardId.", { logDetail: reason });
}

/** Why a found card is not the caller's to delete, or undefined when it is. */
function refusalOf(card: DeviceCard | undefined, serialNumber: string): string | undefined {
  if (!card) return "card unknown";
  if (card.serialNumber !== serialNumber) return "card belongs to another device";
  if (card.deletedAt) return `card deleted at ${card.deletedAt.toISOString()}`;
  return undefined;
}

const appView = (c: DeviceCard): AppCardView => ({ clientCardId: c.clientCardId, bin: c.bin, createdAt: c.createdAt });

/** Builds the app's card calls. */
export function createDeviceCards(deps: DeviceCardsDeps): DeviceCards {
  if (typeof deps.checkAccessToken !== "function") {
    // As for the initiator: no wiring may list cards for any well-formed token.
    throw new TypeError("createDeviceCards: checkAccessToken is required (the access-token check)");
  }
  const now = deps.now ?? (() => new Date());

  async function list(body: unknown, note?: NoteCardFacts) {
    const request = parseListCardsRequest(body);
    note?.({ serialNumber: request.serialNumber });
    await deps.checkAccessToken(request);
    const cards = await deps.store.listCards(request.serialNumber, { includeDeleted: false }).catch(cardStoreFailure);
    return { cards: cards.slice(0, MAX_LISTED_CARDS).map(appView) };
  }

  async function remove(body: unknown, note?: NoteCardFacts) {
    const request = parseDeleteCardRequest(body);
    note?.({ serialNumber: request.serialNumber, clientCardId: request.clientCardId });
    await deps.checkAccessToken(request);
    const found = await deps.store.findCard(request.clientCardId).catch(cardStoreFailure);
    const refusal = refusalOf(found, request.serialNumber);
    if (refusal !== undefined) throw cardNotFound(refusal);
    // The store deletes only a live card: a delete racing this one leaves nothing for the second.
    const deleted = await deps.store.deleteCard(request.clientCardId, now()).catch(cardStoreFailure);
    if (!deleted?.deletedAt) throw cardNotFound("card deleted meanwhile");
    return { card: { clientCardId: deleted.clientCardId, deletedAt: deleted.deletedAt } };
  }

  return {
    list: (body, note) =>
      list(body, note).catch((e: unknown) => {
        throw toAppError(e);
      }),
    delete: (body, note) =>
      remove(body, note).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
