/**
 * Card references in the SQLite file (table `device_cards`, migration 6).
 * Each call is one short synchronous piece of work on the store's connection
 * (autocommit), so it runs between the session store's group commits, never
 * inside one. A write resolves once the WAL holding it is on disk (durable
 * mode); a read that finds a card while some card write still waits for
 * that sync waits for a sync too, so nothing answers from a card a power
 * loss could take back.
 */
import type { CardStore, DeviceCard } from "../../core/card-store.js";
import { type CardRow, cardFromRow, cardStatements, cardValues, DEVICE_CARDS, saveCardOnce } from "../card-rows.js";
import { insertStatement, selectByKey } from "../rows.js";
import { isUniqueViolation } from "../unavailable.js";
import { SQLITE, type SqliteContext } from "./dialect.js";

type Row = CardRow<number, number>;

/** The CardStore methods over an open, migrated SQLite connection. */
export function createSqliteCardQueries(ctx: SqliteContext): CardStore {
  const { db, run, afterCommit } = ctx;
  const sql = cardStatements(SQLITE);
  const insert = db.prepare(insertStatement(DEVICE_CARDS, SQLITE));
  const selectOne = db.prepare(selectByKey(DEVICE_CARDS, "client_card_id", SQLITE));
  const selectLive = db.prepare(sql.live);
  const listLive = db.prepare(sql.listLive);
  const listAll = db.prepare(sql.listAll);
  const markDeleted = db.prepare(sql.delete);

  // Card writes whose WAL sync has not finished.
  let syncing = 0;
  async function synced(): Promise<void> {
    if (!afterCommit) return;
    syncing++;
    try {
      await afterCommit();
    } finally {
      syncing--;
    }
  }
  async function write<T>(work: () => T): Promise<T> {
    const result = await run(work);
    await synced();
    return result;
  }
  async function read<T>(work: () => T): Promise<T> {
    const result = await run(work);
    if (afterCommit && syncing > 0 && result !== undefined) await afterCommit();
    return result;
  }
  const one = (row: unknown): DeviceCard | undefined => (row ? cardFromRow(row as Row, SQLITE) : undefined);

  return {
    saveCard: (card) =>
      saveCardOnce(card, {
        insert: (c) => write(() => void insert.run(cardValues(c, SQLITE))),
        // The found card may be another call's write still syncing: wait for a sync.
        findLive: (serial, server) => write(() => one(selectLive.get(serial, server))),
        isUniqueViolation: (e) => isUniqueViolation("sqlite", e),
      }),
    findCard: (clientCardId) => read(() => one(selectOne.get(clientCardId))),
    listCards: (serialNumber, { includeDeleted }) =>
      read(() =>
        ((includeDeleted ? listAll : listLive).all(serialNumber) as Row[]).map((row) => cardFromRow(row, SQLITE)),
      ),
    deleteCard: (clientCardId, at) =>
      write(() => {
        if (markDeleted.run(at.getTime(), clientCardId).changes === 0) return undefined;
        return one(selectOne.get(clientCardId));
      }),
  };
}
