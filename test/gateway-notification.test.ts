/**
 * TopTechPay's card mapping notifications on the JSON paths
 * (`POST /sale/notification`, `POST /verification/notification` and the
 * `/{invoiceId}/notification` form) and the repeat sale they make possible
 * (a check naming the clientCardId), end to end against a real server: the
 * app initiates, the test checks and notifies as the gateway would, and
 * verifies every checkSignature with its own HMAC. Every refusal is checked
 * for its status, code and fail body, and for storing (or binding) nothing.
 * The last block runs the flow on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Operation } from "../src/core/initiate-request.js";
import {
  type CheckBody,
  cardsOf,
  checkBody,
  checkedSession,
  expectCheckAnswer,
  expectCheckRefusal,
  expectedCheckSignature,
  expectNothingBound,
  expectNotificationAnswer,
  gatewayToken,
  type Initiated,
  initiate,
  type NotifiedCard,
  notificationBody,
  postCheck,
  postNotification,
  repeatCheckBody,
  repeatSaleAnswer,
  serverCardId,
  sha256,
} from "./support/gateway-fixtures.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { serverForFile, startTestServer, type TestServer } from "./support/test-server.js";

const s = await serverForFile();

const CLIENT_CARD_ID = /^[A-Za-z0-9_-]{32}$/;

/** Notifies `card` for a checked session and returns the device's one clientCardId. */
async function notifyCard(t: TestServer, init: Initiated, token: string, card: NotifiedCard): Promise<string> {
  expectNotificationAnswer(
    await postNotification(t.url, init.operation, notificationBody(init, token, card)),
    init,
    token,
  );
  const cards = await cardsOf(t, init.serialNumber);
  const stored = cards.find((c) => c.serverCardId === card.serverCardId);
  expect(stored?.clientCardId).toMatch(CLIENT_CARD_ID);
  return stored?.clientCardId ?? "";
}

/** A repeat sale of `init` with `clientCardId` is refused CARD_NOT_OWNED, binding nothing. */
async function expectCardRefused(t: TestServer, init: Initiated, clientCardId: string): Promise<void> {
  const answer = await postCheck(t.url, "sale", init.invoiceId, repeatCheckBody(init, gatewayToken(), clientCardId));
  expectCheckRefusal(answer, 403, "CARD_NOT_OWNED", init.invoiceId);
  await expectNothingBound(t, init.invoiceId);
}

describe("card mapping notifications", () => {
  it("sale: the documented answer, signed; the card is stored for the device under a drawn clientCardId", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const card = { serverCardId: serverCardId(), uniqueReferenceCardId: 987654321, bin: 411111 };
    const before = Date.now();
    const answer = await postNotification(s.url, "sale", notificationBody(init, token, card));
    expectNotificationAnswer(answer, init, token);
    // The answer never names the card.
    expect(answer.text).not.toContain(card.serverCardId);
    const cards = await cardsOf(s, init.serialNumber);
    expect(cards).toEqual([
      {
        clientCardId: expect.stringMatching(CLIENT_CARD_ID),
        serialNumber: init.serialNumber,
        serverCardId: card.serverCardId,
        uniqueReferenceCardId: "987654321",
        bin: 411111,
        operation: "sale",
        invoiceId: init.invoiceId,
        createdAt: expect.any(Date),
        deletedAt: undefined,
      },
    ]);
    expect(cards[0]?.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
  });

  it("verification: the reference at the top level is stored; sourceCard holds only the BIN", async () => {
    const { init, token } = await checkedSession(s, "verification");
    const card = { serverCardId: serverCardId(), uniqueReferenceCardId: "9223372036854775807", bin: 522222 };
    await notifyCard(s, init, token, card);
    expect(await cardsOf(s, init.serialNumber)).toMatchObject([
      { serverCardId: card.serverCardId, uniqueReferenceCardId: "9223372036854775807", bin: 522222 },
    ]);
    // A verification's sourceCard.reference is not where its reference goes: nothing more is stored.
    const misplaced = notificationBody(init, token);
    misplaced.sourceCard = { reference: { serverCardId: serverCardId() } };
    expectNotificationAnswer(await postNotification(s.url, "verification", misplaced), init, token);
    expect(await cardsOf(s, init.serialNumber)).toHaveLength(1);
  });

  it("a redelivered notification keeps its clientCardId: one row, also through the path form", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const card = { serverCardId: serverCardId(), bin: 411111 };
    const first = await notifyCard(s, init, token, card);
    expectNotificationAnswer(await postNotification(s.url, "sale", notificationBody(init, token, card)), init, token);
    const viaPath = await postNotification(s.url, "sale", notificationBody(init, token, card), init.invoiceId);
    expectNotificationAnswer(viaPath, init, token);
    expect((await cardsOf(s, init.serialNumber)).map((c) => c.clientCardId)).toEqual([first]);
    // The same card paid again in a later session of the device: still one card.
    const later = await checkedSession(s, "sale", init.serialNumber);
    expect(await notifyCard(s, later.init, later.token, card)).toBe(first);
    expect(await cardsOf(s, init.serialNumber)).toHaveLength(1);
  });

  it("no reference in the body: 200, nothing stored", async () => {
    for (const operation of ["sale", "verification"] as const) {
      const { init, token } = await checkedSession(s, operation);
      expectNotificationAnswer(await postNotification(s.url, operation, notificationBody(init, token)), init, token);
      const onlyBin = { ...notificationBody(init, token), sourceCard: { bin: 411111, reference: {} } };
      expectNotificationAnswer(await postNotification(s.url, operation, onlyBin), init, token);
      expect(await cardsOf(s, init.serialNumber)).toEqual([]);
    }
  });

  it("an invoiceId in the body is not the gateway's to set: ignored (the path form's is the path's)", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const other = await initiate(s, "sale");
    const body = { ...notificationBody(init, token, { serverCardId: serverCardId() }), invoiceId: other.invoiceId };
    expectNotificationAnswer(await postNotification(s.url, "sale", body), init, token);
    expectNotificationAnswer(await postNotification(s.url, "sale", body, init.invoiceId), init, token);
    expect(await cardsOf(s, init.serialNumber)).toHaveLength(1);
  });

  describe("refusals store nothing", () => {
    // Each case: how to spoil a notification of a checked sale; the status, code and the fail body's invoiceId.
    interface Case {
      readonly status: number;
      readonly code: string;
      /** The request to send, and the invoiceId the fail body must carry (undefined: none). */
      spoil(
        init: Initiated,
        token: string,
      ): Promise<{
        operation: Operation;
        body: CheckBody;
        invoiceId?: string;
        expected: string | undefined;
      }>;
    }
    const card = () => ({ serverCardId: serverCardId(), bin: 411111 });
    const cases: Record<string, Case> = {
      "an unknown session token": {
        status: 404,
        code: "GATEWAY_TOKEN_UNKNOWN",
        spoil: async (init) => ({
          operation: "sale",
          body: notificationBody(init, gatewayToken(), card()),
          expected: undefined,
        }),
      },
      "a session never checked (its token was never bound)": {
        status: 404,
        code: "GATEWAY_TOKEN_UNKNOWN",
        spoil: async () => {
          const fresh = await initiate(s, "sale");
          return { operation: "sale", body: notificationBody(fresh, gatewayToken(), card()), expected: undefined };
        },
      },
      "a sale's token on the verification path": {
        status: 404,
        code: "GATEWAY_TOKEN_UNKNOWN",
        spoil: async (init, token) => ({
          operation: "verification",
          body: notificationBody({ ...init, operation: "verification" }, token, card()),
          expected: undefined,
        }),
      },
      "a wrong device serial number": {
        status: 403,
        code: "SESSION_MISMATCH",
        spoil: async (init, token) => ({
          operation: "sale",
          body: notificationBody({ ...init, serialNumber: `${init.serialNumber}-X` }, token, card()),
          expected: init.invoiceId,
        }),
      },
      "a wrong access token": {
        status: 403,
        code: "SESSION_MISMATCH",
        spoil: async (init, token) => ({
          operation: "sale",
          body: notificationBody({ ...init, accessToken: "A".repeat(64) }, token, card()),
          expected: init.invoiceId,
        }),
      },
      "the path form naming another invoice": {
        status: 404,
        code: "GATEWAY_TOKEN_UNKNOWN",
        spoil: async (init, token) => {
          const other = await initiate(s, "sale");
          return {
            operation: "sale",
            body: notificationBody(init, token, card()),
            invoiceId: other.invoiceId,
            expected: other.invoiceId,
          };
        },
      },
      "the path form with the operation of the other path": {
        status: 404,
        code: "GATEWAY_TOKEN_UNKNOWN",
        spoil: async (init, token) => ({
          operation: "verification",
          body: notificationBody(init, token, card()),
          invoiceId: init.invoiceId,
          expected: init.invoiceId,
        }),
      },
      "a serverCardId of 65 characters": {
        status: 400,
        code: "FIELD_LENGTH",
        spoil: async (init, token) => ({
          operation: "sale",
          body: notificationBody(init, token, { serverCardId: "1".repeat(65) }),
          expected: undefined,
        }),
      },
      "a BIN that is not a whole number": {
        status: 400,
        code: "FIELD_FORMAT",
        spoil: async (init, token) => ({
          operation: "sale",
          body: notificationBody(init, token, { serverCardId: serverCardId(), bin: 4111.5 }),
          expected: undefined,
        }),
      },
      "a missing session.token": {
        status: 400,
        code: "FIELD_REQUIRED",
        spoil: async (init, token) => {
          const body = notificationBody(init, token, card());
          delete body.session.token;
          return { operation: "sale", body, expected: undefined };
        },
      },
    };
    for (const [name, k] of Object.entries(cases)) {
      it(`${name}: ${k.status} ${k.code}`, async () => {
        const { init, token } = await checkedSession(s, "sale");
        const { operation, body, invoiceId, expected } = await k.spoil(init, token);
        const answer = await postNotification(s.url, operation, body, invoiceId);
        expectCheckRefusal(answer, k.status, k.code, expected);
        expect(await cardsOf(s, init.serialNumber)).toEqual([]);
        expect(await cardsOf(s, body.consumer?.device?.serialNumber ?? "")).toEqual([]);
        // The session itself is untouched: a correct notification still stores its card.
        await notifyCard(s, init, token, card());
      });
    }
  });
});

describe("repeat sale: a check naming a clientCardId", () => {
  it("answers the card's serverCardId, signed over it; the same check again answers the same", async () => {
    const first = await checkedSession(s, "sale");
    const card = { serverCardId: serverCardId(), bin: 411111 };
    const clientCardId = await notifyCard(s, first.init, first.token, card);

    const init = await initiate(s, "sale", first.init.serialNumber);
    const token = gatewayToken();
    const expected = repeatSaleAnswer(init, token, card.serverCardId);
    for (let i = 0; i < 2; i++) {
      const answer = await postCheck(s.url, "sale", init.invoiceId, repeatCheckBody(init, token, clientCardId));
      expect(answer.status, answer.text).toBe(200);
      expect(answer.json).toEqual(expected);
    }
    expect((await s.server.store.findStoredSession(init.invoiceId))?.gatewayTokenHash).toBe(sha256(token));
    // The signature really covers the serverCardId: without it, it would differ.
    expect(expected.session.checkSignature).not.toBe(expectedCheckSignature(init));
  });

  describe("a card this device does not own: 403 CARD_NOT_OWNED, nothing bound", () => {
    const cases: Record<string, (serial: string) => Promise<string>> = {
      "another device's card": async () => {
        const other = await checkedSession(s, "sale");
        return notifyCard(s, other.init, other.token, { serverCardId: serverCardId() });
      },
      "an unknown clientCardId": async () => "NoSuchCardNoSuchCardNoSuchCard00",
      "a deleted card": async (serial) => {
        const mine = await checkedSession(s, "sale", serial);
        const id = await notifyCard(s, mine.init, mine.token, { serverCardId: serverCardId() });
        expect(await s.server.store.deleteCard(id, new Date())).toMatchObject({ clientCardId: id });
        return id;
      },
    };
    for (const [name, cardOf] of Object.entries(cases)) {
      it(name, async () => {
        const init = await initiate(s, "sale");
        const clientCardId = await cardOf(init.serialNumber);
        await expectCardRefused(s, init, clientCardId);
        // Without the card the same session still checks.
        const token = gatewayToken();
        expectCheckAnswer(await postCheck(s.url, "sale", init.invoiceId, checkBody(init, token)), init, token);
      });
    }
  });

  it("a card deleted after the check bound the session: the retried check answers as before; a new session is refused", async () => {
    const first = await checkedSession(s, "sale");
    const card = { serverCardId: serverCardId() };
    const clientCardId = await notifyCard(s, first.init, first.token, card);
    const init = await initiate(s, "sale", first.init.serialNumber);
    const token = gatewayToken();
    const body = repeatCheckBody(init, token, clientCardId);
    const answer = await postCheck(s.url, "sale", init.invoiceId, body);
    expect(answer.status, answer.text).toBe(200);

    await s.server.store.deleteCard(clientCardId, new Date());
    const retried = await postCheck(s.url, "sale", init.invoiceId, body);
    expect({ status: retried.status, json: retried.json }).toEqual({ status: 200, json: answer.json });

    const next = await initiate(s, "sale", first.init.serialNumber);
    await expectCardRefused(s, next, clientCardId);
  });
});

describe("the log", () => {
  it("names the operation, invoice, endpoint and clientCardId; never the serverCardId or a token", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const card = { serverCardId: `${serverCardId()}777`, bin: 411111 };
    const answer = await postNotification(s.url, "sale", notificationBody(init, token, card));
    const clientCardId = (await cardsOf(s, init.serialNumber))[0]?.clientCardId ?? "";
    const line = await s.logLineFor(answer.requestId);
    expect(line).toMatchObject({
      operation: "sale-notification",
      outcome: "ok",
      invoiceId: init.invoiceId,
      endpointId: init.endpointId,
      clientCardId,
    });
    // A repeat sale and a refused notification log too.
    const next = await initiate(s, "sale", init.serialNumber);
    const nextToken = gatewayToken();
    await postCheck(s.url, "sale", next.invoiceId, repeatCheckBody(next, nextToken, clientCardId));
    const refused = await postNotification(
      s.url,
      "sale",
      notificationBody({ ...init, accessToken: "B".repeat(64) }, token, card),
    );
    expect(await s.logLineFor(refused.requestId)).toMatchObject({
      operation: "sale-notification",
      code: "SESSION_MISMATCH",
      invoiceId: init.invoiceId,
    });
    const all = s.logLines.map((l) => JSON.stringify(l)).join("\n");
    for (const secret of [card.serverCardId, token, nextToken, init.accessToken, sha256(token)]) {
      expect(all).not.toContain(secret);
    }
    expect(all).toContain(clientCardId);
  });
});

describe("on PostgreSQL", () => {
  let db: TestDatabase | undefined;
  let t: TestServer | undefined;
  beforeAll(async () => {
    if (!PG_AVAILABLE) return;
    db = await createTestDatabase("cp_notify");
    t = await startTestServer({ config: { store: { postgres: db.url } } });
  });
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  pgIt("notify, redeliver, repeat sale, refuse a deleted card", async () => {
    const server = t as TestServer;
    expect(server.server.store.kind).toBe("postgres");
    const { init, token } = await checkedSession(server, "verification");
    const card = { serverCardId: serverCardId(), uniqueReferenceCardId: 1234, bin: 411111 };
    const clientCardId = await notifyCard(server, init, token, card);
    // Redelivered at once, twice in parallel: still one card.
    await Promise.all([notifyCard(server, init, token, card), notifyCard(server, init, token, card)]);
    expect((await cardsOf(server, init.serialNumber)).map((c) => c.clientCardId)).toEqual([clientCardId]);

    const sale = await initiate(server, "sale", init.serialNumber);
    const saleToken = gatewayToken();
    const answer = await postCheck(server.url, "sale", sale.invoiceId, repeatCheckBody(sale, saleToken, clientCardId));
    expect(answer.json).toEqual(repeatSaleAnswer(sale, saleToken, card.serverCardId));

    await server.server.store.deleteCard(clientCardId, new Date());
    const next = await initiate(server, "sale", init.serialNumber);
    await expectCardRefused(server, next, clientCardId);
  });
});
