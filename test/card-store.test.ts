/**
 * The CardStore contract, run unchanged against both stores: the SQLite file
 * (durable mode) and PostgreSQL (a fresh database for this file). Saving is
 * race-safe (one live card per device and serverCardId, whatever races),
 * durable, and a deleted card stays readable but is never live again.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeviceCard } from "../src/core/card-store.js";
import { StoreUnavailableError } from "../src/core/session-store.js";
import { type AppStore, openStore } from "../src/store/open-store.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { storeConfig } from "./support/store-config.js";

function card(overrides: Partial<DeviceCard> = {}): DeviceCard {
  return {
    clientCardId: randomBytes(24).toString("base64url"),
    serialNumber: "SN-CARD",
    serverCardId: `${Math.floor(Math.random() * 1e12)}`,
    // Past 2^53: kept as text, digit for digit.
    uniqueReferenceCardId: "9223372036854775807",
    bin: 411111,
    operation: "sale",
    invoiceId: randomUUID(),
    createdAt: new Date("2026-02-03T04:05:06.789Z"),
    deletedAt: undefined,
    ...overrides,
  };
}

interface Harness {
  /** A store on the harness's database (SQLite: the file `name`; PostgreSQL: another instance). */
  open(name?: string): AppStore;
  /** A second instance on the same database, where the store allows one. */
  peer(): AppStore | undefined;
  cleanup(): Promise<void>;
}

function sqliteHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), "cp-cards-"));
  return {
    open: (name = "cards") => openStore(storeConfig({ sqlite: join(dir, `${name}.db`), durability: "full" })),
    peer: () => undefined,
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresHarness(db: TestDatabase): Harness {
  const open = () => openStore(storeConfig({ postgres: db.url }));
  return { open, peer: open, cleanup: () => db.drop() };
}

describe.each([
  { kind: "sqlite", test: it },
  { kind: "postgres", test: pgIt },
])("card store contract: $kind", ({ kind, test }) => {
  const runs = kind === "sqlite" || PG_AVAILABLE;
  let h: Harness;
  let store: AppStore;

  beforeAll(async () => {
    if (!runs) return;
    h = kind === "sqlite" ? sqliteHarness() : postgresHarness(await createTestDatabase("cp_cards"));
    store = h.open();
    await store.ready();
  });
  afterAll(async () => {
    if (!runs) return;
    await store.close();
    await h.cleanup();
  });

  test("a card is saved and read back field for field; an unknown clientCardId is undefined", async () => {
    const full = card({ serialNumber: "SN-FIELDS" });
    const sparse = card({
      serialNumber: "SN-FIELDS",
      uniqueReferenceCardId: undefined,
      bin: undefined,
      operation: "verification",
    });
    expect(await store.saveCard(full)).toEqual({ card: full, created: true });
    expect(await store.saveCard(sparse)).toEqual({ card: sparse, created: true });
    expect(await store.findCard(full.clientCardId)).toEqual(full);
    expect(await store.findCard(sparse.clientCardId)).toEqual(sparse);
    expect(await store.findCard(randomBytes(24).toString("base64url"))).toBeUndefined();
  });

  test("the same serverCardId again for the device keeps its first card; another device gets its own", async () => {
    const first = card({ serialNumber: "SN-REDELIVER" });
    await store.saveCard(first);
    const again = card({ serialNumber: "SN-REDELIVER", serverCardId: first.serverCardId, bin: 522222 });
    expect(await store.saveCard(again)).toEqual({ card: first, created: false });
    expect(await store.findCard(again.clientCardId)).toBeUndefined();
    expect(await store.listCards("SN-REDELIVER", { includeDeleted: true })).toEqual([first]);

    const elsewhere = card({ serialNumber: "SN-REDELIVER-2", serverCardId: first.serverCardId });
    expect(await store.saveCard(elsewhere)).toEqual({ card: elsewhere, created: true });
  });

  test("concurrent saves of one card (on two instances where the store allows it) end with one live card", async () => {
    const peer = h.peer();
    await peer?.ready();
    try {
      for (let round = 0; round < 5; round++) {
        const serial = `SN-RACE-${round}`;
        const serverCardId = `race-${round}-${randomUUID()}`;
        const attempts = Array.from({ length: 10 }, () => card({ serialNumber: serial, serverCardId }));
        const answers = await Promise.all(attempts.map((c, i) => (i % 2 === 1 && peer ? peer : store).saveCard(c)));
        expect(answers.filter((a) => a.created)).toHaveLength(1);
        const winner = answers.find((a) => a.created)?.card;
        expect(answers.map((a) => a.card)).toEqual(attempts.map(() => winner));
        expect(await store.listCards(serial, { includeDeleted: true })).toEqual([winner]);
      }
    } finally {
      await peer?.close();
    }
  });

  test("listCards: one device's cards oldest first; deleted ones only when asked", async () => {
    const serial = `SN-LIST-${kind}`;
    const at = (ms: number) => new Date(Date.UTC(2026, 5, 1) + ms);
    const [c0, c1, c2] = [
      card({ serialNumber: serial, createdAt: at(0) }),
      card({ serialNumber: serial, createdAt: at(1) }),
      card({ serialNumber: serial, createdAt: at(2) }),
    ] as [DeviceCard, DeviceCard, DeviceCard];
    // Saved newest first: the listing orders by createdAt, not by insertion.
    for (const c of [c2, c0, c1]) await store.saveCard(c);
    await store.saveCard(card({ serialNumber: `${serial}-OTHER`, createdAt: at(1) }));
    expect(await store.listCards(serial, { includeDeleted: false })).toEqual([c0, c1, c2]);

    const deletedAt = at(10);
    await store.deleteCard(c1.clientCardId, deletedAt);
    expect(await store.listCards(serial, { includeDeleted: false })).toEqual([c0, c2]);
    expect(await store.listCards(serial, { includeDeleted: true })).toEqual([c0, { ...c1, deletedAt }, c2]);
    expect(await store.listCards("SN-NOBODY", { includeDeleted: true })).toEqual([]);
  });

  test("deleteCard marks a live card once; a deleted card's serverCardId can be stored again, as a new card", async () => {
    const c = card({ serialNumber: "SN-DELETE" });
    await store.saveCard(c);
    const at = new Date("2026-02-04T00:00:00.001Z");
    expect(await store.deleteCard(c.clientCardId, at)).toEqual({ ...c, deletedAt: at });
    expect(await store.deleteCard(c.clientCardId, new Date())).toBeUndefined();
    expect(await store.findCard(c.clientCardId)).toEqual({ ...c, deletedAt: at });
    expect(await store.deleteCard(randomBytes(24).toString("base64url"), at)).toBeUndefined();

    const again = card({ serialNumber: "SN-DELETE", serverCardId: c.serverCardId });
    expect(await store.saveCard(again)).toEqual({ card: again, created: true });
    expect(await store.listCards("SN-DELETE", { includeDeleted: false })).toEqual([again]);
  });

  test("a saved card survives closing the store and opening it again", async () => {
    const first = h.open("reopened");
    await first.ready();
    const c = card({ serialNumber: "SN-REOPEN" });
    try {
      await first.saveCard(c);
    } finally {
      await first.close();
    }
    const again = h.open("reopened");
    try {
      await again.ready();
      expect(await again.findCard(c.clientCardId)).toEqual(c);
      expect(await again.saveCard(card({ serialNumber: "SN-REOPEN", serverCardId: c.serverCardId }))).toEqual({
        card: c,
        created: false,
      });
    } finally {
      await again.close();
    }
  });

  test("a closed store rejects every card call with StoreUnavailableError", async () => {
    const other = h.open("closed");
    await other.ready();
    await other.close();
    await expect(other.saveCard(card())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.findCard("x")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.listCards("SN", { includeDeleted: false })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.deleteCard("x", new Date())).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
