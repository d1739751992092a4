/**
 * The app's cards and CardService on PostgreSQL (a fresh database for this
 * file): list and delete on the JSON paths, the back office's listing with
 * deleted cards, and the row kept in device_cards with its deleted_at.
 */
import pg from "pg";
import { pino } from "pino";
import { afterAll, describe, expect } from "vitest";
import { buildConfig } from "../src/config/load-config.js";
import { type AppServer, createServer } from "../src/server.js";
import { appCall, deleteBody, listBody, postCard, seedCard } from "./support/card-fixtures.js";
import { createTestDatabase, pgIt, type TestDatabase } from "./support/postgres.js";
import { TEST_CONTROL_KEY } from "./support/test-server.js";

const API_KEY = "back-office-key-0123456789abcdef";
let db: TestDatabase | undefined;
let server: AppServer | undefined;
afterAll(async () => {
  await server?.close(2_000);
  await db?.drop();
});

describe("cards on PostgreSQL", () => {
  pgIt("lists live cards oldest first, deletes one durably, and the back office sees it deleted", async () => {
    db = await createTestDatabase("cp_cards");
    // Built directly: the test server helper always puts in a SQLite file.
    const config = buildConfig(
      {
        server: { host: "127.0.0.1", port: 0 },
        store: { postgres: db.url },
        endpoints: [{ id: "1111", controlKey: TEST_CONTROL_KEY, operations: ["sale", "verification"] }],
        auth: { apiKeys: [{ key: API_KEY }] },
      },
      { env: {}, baseDir: process.cwd(), sourceName: "test" },
    );
    server = createServer(config, pino({ level: "silent" }));
    const { url } = await server.listen();
    const sn = "SN-PG-CARDS";
    const token = (await server.tokens.issue(sn)).accessToken;
    const later = await seedCard(server.store, sn, { createdAt: new Date("2026-07-01T00:00:02.000Z") });
    const earlier = await seedCard(server.store, sn, {
      createdAt: new Date("2026-07-01T00:00:01.500Z"),
      bin: undefined,
    });
    await seedCard(server.store, "SN-PG-OTHER");

    const listed = await appCall(url, "json", "list", listBody(sn, token));
    expect(listed.ok && listed.answer).toEqual({
      cards: [
        { clientCardId: earlier.clientCardId, createdAt: "2026-07-01T00:00:01.500Z" },
        { clientCardId: later.clientCardId, bin: 411111, createdAt: "2026-07-01T00:00:02Z" },
      ],
    });
    expect(listed.text).not.toContain(earlier.serverCardId);

    const deleted = await appCall(url, "json", "delete", deleteBody(sn, token, earlier.clientCardId));
    expect(deleted.ok).toBe(true);
    // Committed before the answer: another connection reads the row, kept, with its deletion time.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query(
      "SELECT server_card_id, deleted_at FROM device_cards WHERE client_card_id = $1",
      [earlier.clientCardId],
    );
    await client.end();
    expect(rows).toHaveLength(1);
    expect(rows[0].server_card_id).toBe(earlier.serverCardId);
    const deletedAt = new Date(rows[0].deleted_at).toISOString();
    expect(deleted.ok && deleted.answer).toEqual({
      card: { clientCardId: earlier.clientCardId, deletedAt: deletedAt.replace(".000Z", "Z") },
    });

    const again = await appCall(url, "json", "delete", deleteBody(sn, token, earlier.clientCardId));
    expect(again).toMatchObject({ ok: false, status: 404, code: "CARD_NOT_FOUND" });
    const now = await appCall(url, "json", "list", listBody(sn, token));
    expect(now.ok && now.answer.cards).toEqual([expect.objectContaining({ clientCardId: later.clientCardId })]);

    const all = await postCard(
      url,
      "/toptechpay.card.v1.CardService/ListCards",
      "connect",
      {
        serialNumber: sn,
        includeDeleted: true,
      },
      { authorization: `Bearer ${API_KEY}` },
    );
    const cards = (all.ok ? all.answer.cards : []) as Record<string, unknown>[];
    expect(cards.map((k) => [k.clientCardId, k.deletedAt])).toEqual([
      [earlier.clientCardId, deletedAt.replace(".000Z", "Z")],
      [later.clientCardId, undefined],
    ]);
    const removed = await postCard(
      url,
      "/toptechpay.card.v1.CardService/DeleteCard",
      "connect",
      {
        clientCardId: later.clientCardId,
      },
      { authorization: `Bearer ${API_KEY}` },
    );
    expect(removed).toMatchObject({ ok: true, answer: { card: { clientCardId: later.clientCardId } } });
    expect(await appCall(url, "json", "list", listBody(sn, token))).toMatchObject({ ok: true, text: '{"cards":[]}' });
  });
});
