/**
 * Card references in PostgreSQL (table `device_cards`, migration 6). Each
 * write is one autocommit statement (durable at COMMIT, synchronous_commit
 * on), so every instance sees it at once; the partial unique index
 * device_cards_live keeps one live card per device and serverCardId across
 * instances.
 */
import type { CardStore, DeviceCard } from "../../core/card-store.js";
import { type CardRow, cardFromRow, cardStatements, cardValues, DEVICE_CARDS, saveCardOnce } from "../card-rows.js";
import { isUniqueViolation } from "../unavailable.js";
import { keyedRows, POSTGRES, type PostgresQuery } from "./dialect.js";

type Row = CardRow<Date, string>;

// PostgreSQL's time columns have their plain names, so RETURNING * is the shared row.
const DELETE_RETURNING = `${cardStatements(POSTGRES).delete} RETURNING *`;

/** The CardStore methods over the PostgreSQL store's query function. */
export function createPostgresCardQueries(query: PostgresQuery): CardStore {
  const sql = cardStatements(POSTGRES);
  const cards = keyedRows(
    query,
    DEVICE_CARDS,
    "client_card_id",
    (card: DeviceCard) => cardValues(card, POSTGRES),
    (row: Row) => cardFromRow(row, POSTGRES),
  );
  const rowsOf = async (text: string, values: unknown[]) =>
    ((await query(text, values)).rows as unknown as Row[]).map((row) => cardFromRow(row, POSTGRES));

  return {
    saveCard: (card) =>
      saveCardOnce(card, {
        insert: cards.insert,
        // A separate statement: its snapshot is taken after the insert waited
        // for a racing insert's commit, so it sees that card.
        findLive: async (serial, server) => (await rowsOf(sql.live, [serial, server]))[0],
        isUniqueViolation: (e) => isUniqueViolation("postgres", e),
      }),
    findCard: cards.find,
    listCards: (serialNumber, { includeDeleted }) =>
      rowsOf(includeDeleted ? sql.listAll : sql.listLive, [serialNumber]),
    deleteCard: async (clientCardId, at) => (await rowsOf(DELETE_RETURNING, [at, clientCardId]))[0],
  };
}
