/**
 * The `device_cards` table (migration 6) for both stores, in the style of
 * rows.ts: its columns, the row <-> DeviceCard conversion, the statements
 * the two query modules share, and the race-safe save both run.
 */
import type { DeviceCard } from "../core/card-store.js";
import type { Operation } from "../core/initiate-request.js";
import { type Dialect, selectAll, type Table } from "./rows.js";

/** One row of `device_cards`, as the shared SELECT returns it. */
export interface CardRow<Time, BigInt> {
  client_card_id: string;
  serial_number: string;
  server_card_id: string;
  unique_reference_card_id: string | null;
  bin: BigInt | null;
  operation: Operation;
  invoice_id: string;
  created_at: Time;
  deleted_at: Time | null;
}

/** The `device_cards` table. */
export const DEVICE_CARDS: Table<keyof CardRow<unknown, unknown>> = {
  name: "device_cards",
  columns: [
    "client_card_id",
    "serial_number",
    "server_card_id",
    "unique_reference_card_id",
    "bin",
    "operation",
    "invoice_id",
    "created_at",
    "deleted_at",
  ],
  times: ["created_at", "deleted_at"],
};

/** A card's values in `DEVICE_CARDS.columns` order. */
export function cardValues<T, L, B>(card: DeviceCard, d: Dialect<T, L, B>): unknown[] {
  return [
    card.clientCardId,
    card.serialNumber,
    card.serverCardId,
    card.uniqueReferenceCardId ?? null,
    card.bin ?? null,
    card.operation,
    card.invoiceId,
    d.toTime(card.createdAt),
    card.deletedAt === undefined ? null : d.toTime(card.deletedAt),
  ];
}

/** The card a row holds. */
export function cardFromRow<T, L, B>(row: CardRow<T, B>, d: Dialect<T, L, B>): DeviceCard {
  return {
    clientCardId: row.client_card_id,
    serialNumber: row.serial_number,
    serverCardId: row.server_card_id,
    uniqueReferenceCardId: row.unique_reference_card_id ?? undefined,
    bin: row.bin === null ? undefined : d.fromBigInt(row.bin),
    operation: row.operation,
    invoiceId: row.invoice_id,
    createdAt: d.fromTime(row.created_at),
    deletedAt: row.deleted_at === null ? undefined : d.fromTime(row.deleted_at),
  };
}

/** The statements over `device_cards` in `d`'s spelling. */
export function cardStatements(d: Dialect<unknown, unknown, unknown>) {
  const deleted = d.timeColumn("deleted_at");
  const created = d.timeColumn("created_at");
  const p = (n: number) => d.parameter(n);
  const all = selectAll(DEVICE_CARDS, d);
  // The clientCardId breaks ties of one millisecond, so the order is total.
  const order = `ORDER BY ${created}, client_card_id`;
  return {
    /** The device's (1) live card with this serverCardId (2): what device_cards_live keeps unique. */
    live: `${all} WHERE serial_number = ${p(1)} AND server_card_id = ${p(2)} AND ${deleted} IS NULL`,
    /** A device's (1) live cards, oldest first. */
    listLive: `${all} WHERE serial_number = ${p(1)} AND ${deleted} IS NULL ${order}`,
    /** A device's (1) cards, deleted ones too, oldest first. */
    listAll: `${all} WHERE serial_number = ${p(1)} ${order}`,
    /** Marks deleted at (1) the live card (2). (SQLite's `?` count in order of appearance.) */
    delete: `UPDATE device_cards SET ${deleted} = ${p(1)} WHERE client_card_id = ${p(2)} AND ${deleted} IS NULL`,
  };
}

/** What `saveCardOnce` needs of one store. */
export interface SaveCardSteps {
  /** Inserts the card; rejects with the driver's error on a unique violation. */
  insert(card: DeviceCard): Promise<void>;
  /** The device's live card with this serverCardId. */
  findLive(serialNumber: string, serverCardId: string): Promise<DeviceCard | undefined>;
  isUniqueViolation(e: unknown): boolean;
}

// A live card found by the unique index can be deleted before it is read;
// the next insert then succeeds. A few rounds cover any plausible race.
const SAVE_ROUNDS = 3;

/**
 * CardStore.saveCard over one store: insert, and on a unique violation
 * (device_cards_live: the device has a live card with that serverCardId,
 * stored before or by a racing call on any instance) answer that card. No
 * read-then-insert gap: the index decides, so two concurrent saves end with
 * one live card.
 */
export async function saveCardOnce(
  card: DeviceCard,
  steps: SaveCardSteps,
): Promise<{ readonly card: DeviceCard; readonly created: boolean }> {
  for (let round = 1; ; round++) {
    try {
      await steps.insert(card);
      return { card, created: true };
    } catch (e) {
      if (!steps.isUniqueViolation(e)) throw e;
      const live = await steps.findLive(card.serialNumber, card.serverCardId);
      if (live) return { card: live, created: false };
      // No live card: the violation was a deleted-meanwhile card, or the
      // clientCardId itself (never in practice: 192 random bits).
      if (round >= SAVE_ROUNDS) throw e;
    }
  }
}
