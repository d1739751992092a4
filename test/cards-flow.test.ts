/**
 * A card's whole life as the app and TopTechPay see it, on a real server: a
 * sale is checked, TopTechPay's card mapping notification stores the card,
 * the app lists it (never its serverCardId), pays with it again, deletes it,
 * and from then on the card is refused for a repeat sale and gone from every
 * list but the back office's include_deleted one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appCall, deleteBody, expectNoReference, listBody, postCard } from "./support/card-fixtures.js";
import {
  checkBody,
  checkedSession,
  expectCheckRefusal,
  expectNothingBound,
  expectNotificationAnswer,
  gatewayToken,
  initiate,
  notificationBody,
  postCheck,
  postNotification,
  serverCardId,
} from "./support/gateway-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const API_KEY = "back-office-key-0123456789abcdef";
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
});
afterAll(async () => {
  await s?.close();
});

describe("a card from notification to deletion", () => {
  it("is listed for the app, pays again, and once deleted is never used again", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const reference = { serverCardId: serverCardId(), uniqueReferenceCardId: 987654321012, bin: 411111 };
    const notified = await postNotification(s.url, "sale", notificationBody(init, token, reference));
    expectNotificationAnswer(notified, init, token);

    const device = listBody(init.serialNumber, init.accessToken);
    const listed = await appCall(s.url, "json", "list", device);
    const cards = (listed.ok ? listed.answer.cards : []) as { clientCardId: string; bin?: number }[];
    expect(cards).toEqual([{ clientCardId: expect.any(String), bin: 411111, createdAt: expect.any(String) }]);
    const clientCardId = cards[0]?.clientCardId as string;
    const stored = await s.server.store.findCard(clientCardId);
    expect(stored?.serverCardId).toBe(reference.serverCardId);
    expectNoReference(listed.text, [stored as NonNullable<typeof stored>]);

    // A repeat sale with the listed card: TopTechPay gets its own reference back.
    const repeat = async () => {
      const next = await initiate(s, "sale", init.serialNumber);
      const body = { ...checkBody(next, gatewayToken()), sourceOfFunds: { reference: { clientCardId } } };
      return { next, answer: await postCheck(s.url, "sale", next.invoiceId, body) };
    };
    const paid = await repeat();
    expect(paid.answer.status, paid.answer.text).toBe(200);
    expect(paid.answer.json.sourceOfFunds).toEqual({ reference: { serverCardId: reference.serverCardId } });

    const deleted = await appCall(
      s.url,
      "connect",
      "delete",
      deleteBody(init.serialNumber, init.accessToken, clientCardId),
    );
    expect(deleted.ok, deleted.text).toBe(true);

    // Deleted: refused for a repeat sale, nothing bound; gone from the app's list.
    const refused = await repeat();
    expectCheckRefusal(refused.answer, 403, "CARD_NOT_OWNED", refused.next.invoiceId);
    await expectNothingBound(s, refused.next.invoiceId);
    expect(await appCall(s.url, "json", "list", device)).toMatchObject({ ok: true, text: '{"cards":[]}' });

    // The same card notified again is a new card: the deleted clientCardId stays dead.
    const again = await checkedSession(s, "sale", init.serialNumber);
    const renotified = await postNotification(s.url, "sale", notificationBody(again.init, again.token, reference));
    expectNotificationAnswer(renotified, again.init, again.token);
    const relisted = await appCall(s.url, "json", "list", device);
    const fresh = (relisted.ok ? relisted.answer.cards : []) as { clientCardId: string }[];
    expect(fresh).toHaveLength(1);
    expect(fresh[0]?.clientCardId).not.toBe(clientCardId);
    expect((await repeat()).answer.status).toBe(403);

    // The back office sees both, the first one deleted.
    const office = await postCard(
      s.url,
      "/toptechpay.card.v1.CardService/ListCards",
      "connect",
      { serialNumber: init.serialNumber, includeDeleted: true },
      { authorization: `Bearer ${API_KEY}` },
    );
    const all = (office.ok ? office.answer.cards : []) as { clientCardId: string; deletedAt?: string }[];
    expect(all.map((k) => [k.clientCardId, k.deletedAt !== undefined])).toEqual([
      [clientCardId, true],
      [fresh[0]?.clientCardId, false],
    ]);
    expect(office.text).not.toContain(reference.serverCardId);
    expect(office.text).not.toContain(String(reference.uniqueReferenceCardId));
  });
});
