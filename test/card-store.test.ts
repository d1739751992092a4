/**
 * The CardStore contract, run unchanged against both stores: the SQLite file
 * (durable mode) and PostgreSQL (a fresh database for this file). Saving is
 * race-safe (one live card per device and serverCardId, whatever races),
 * durable, and a deleted card stays readable but is never live again.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { expect } from "vitest";
import type { DeviceCard } from "../src/core/card-store.js";
import { StoreUnavailableError } from "../src/core/session-store.js";
import { describeStores } from "./support/store-harness.js";

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

describeStores("card store contract", { name: "cp_cards", durability: "full" }, (ctx) => {
  const { kind, test } = ctx;

  test("a card is saved and read back field for field; an unknown clientCardId is undefined", async () => {
    const full = card({ serialNumber: "SN-FIELDS" });
    const sparse = card({
      serialNumber: "SN-FIELDS",
      uniqueReferenceCardId: undefined,
      bin: undefined,
      operation: "verification",
    });
    expect(await ctx.store.saveCard(full)).toEqual({ card: full, created: true });
    expect(await ctx.store.saveCard(sparse)).toEqual({ card: sparse, created: true });
    expect(await ctx.store.findCard(full.clientCardId)).toEqual(full);
    expect(await ctx.store.findCard(sparse.clientCardId)).toEqual(sparse);
    expect(await ctx.store.findCard(randomBytes(24).toString("base64url"))).toBeUndefined();
  });

  test("the same serverCardId again for the device keeps its first card; another device gets its own", async () => {
    const first = card({ serialNumber: "SN-REDELIVER" });
    await ctx.store.saveCard(first);
    const again = card({ serialNumber: "SN-REDELIVER", serverCardId: first.serverCardId, bin: 522222 });
    expect(await ctx.store.saveCard(again)).toEqual({ card: first, created: false });
    expect(await ctx.store.findCard(again.clientCardId)).toBeUndefined();
    expect(await ctx.store.listCards("SN-REDELIVER", { includeDeleted: true })).toEqual([first]);

    const elsewhere = card({ serialNumber: "SN-REDELIVER-2", serverCardId: first.serverCardId });
    expect(await ctx.store.saveCard(elsewhere)).toEqual({ card: elsewhere, created: true });
  });

  test("concurrent saves of one card (on two instances where the store allows it) end with one live card", async () => {
    const peer = ctx.h.peer();
    await peer?.ready();
    try {
      for (let round = 0; round < 5; round++) {
        const serial = `SN-RACE-${round}`;
        const serverCardId = `race-${round}-${randomUUID()}`;
        const attempts = Array.from({ length: 10 }, () => card({ serialNumber: serial, serverCardId }));
        const answers = await Promise.all(attempts.map((c, i) => (i % 2 === 1 && peer ? peer : ctx.store).saveCard(c)));
        expect(answers.filter((a) => a.created)).toHaveLength(1);
        const winner = answers.find((a) => a.created)?.card;
        expect(answers.map((a) => a.card)).toEqual(attempts.map(() => winner));
        expect(await ctx.store.listCards(serial, { includeDeleted: true })).toEqual([winner]);
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
    for (const c of [c2, c0, c1]) await ctx.store.saveCard(c);
    await ctx.store.saveCard(card({ serialNumber: `${serial}-OTHER`, createdAt: at(1) }));
    expect(await ctx.store.listCards(serial, { includeDeleted: false })).toEqual([c0, c1, c2]);

    const deletedAt = at(10);
    await ctx.store.deleteCard(c1.clientCardId, deletedAt);
    expect(await ctx.store.listCards(serial, { includeDeleted: false })).toEqual([c0, c2]);
    expect(await ctx.store.listCards(serial, { includeDeleted: true })).toEqual([c0, { ...c1, deletedAt }, c2]);
    expect(await ctx.store.listCards("SN-NOBODY", { includeDeleted: true })).toEqual([]);
  });

  test("deleteCard marks a live card once; a deleted card's serverCardId can be stored again, as a new card", async () => {
    const c = card({ serialNumber: "SN-DELETE" });
    await ctx.store.saveCard(c);
    const at = new Date("2026-02-04T00:00:00.001Z");
    expect(await ctx.store.deleteCard(c.clientCardId, at)).toEqual({ ...c, deletedAt: at });
    expect(await ctx.store.deleteCard(c.clientCardId, new Date())).toBeUndefined();
    expect(await ctx.store.findCard(c.clientCardId)).toEqual({ ...c, deletedAt: at });
    expect(await ctx.store.deleteCard(randomBytes(24).toString("base64url"), at)).toBeUndefined();

    const again = card({ serialNumber: "SN-DELETE", serverCardId: c.serverCardId });
    expect(await ctx.store.saveCard(again)).toEqual({ card: again, created: true });
    expect(await ctx.store.listCards("SN-DELETE", { includeDeleted: false })).toEqual([again]);
  });

  test("a saved card survives closing the store and opening it again", async () => {
    const first = ctx.h.open("reopened");
    await first.ready();
    const c = card({ serialNumber: "SN-REOPEN" });
    try {
      await first.saveCard(c);
    } finally {
      await first.close();
    }
    const again = ctx.h.open("reopened");
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
    const other = ctx.h.open("closed");
    await other.ready();
    await other.close();
    await expect(other.saveCard(card())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.findCard("x")).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.listCards("SN", { includeDeleted: false })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.deleteCard("x", new Date())).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});
