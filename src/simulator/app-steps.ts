/**
 * The app's calls: an access token from open issuance, initiate sale and
 * initiate verification (their signatures verified here), and the app's list
 * of card references.
 */
import { CARD_BIN, CURRENCY, type Initiated, type RunContext, SALE_AMOUNT_CENTIS } from "./context.js";
import { StepFailure, short } from "./report.js";
import { initiateSignature } from "./signatures.js";
import { type Answer, at, expectEqual, expectSignature, expectStatus, postJson, shown, text } from "./wire.js";

/** The token from POST /auth/access-token (open issuance: a development server). */
export function openIssuanceStep(ctx: RunContext): Promise<string> {
  return ctx.report.step("token", async () => {
    const a = await postJson(ctx.options.url, "/auth/access-token", {
      consumer: { device: { serialNumber: ctx.options.serialNumber } },
    });
    if (a.status === 404) {
      throw new StepFailure(
        "200 {session:{accessToken}} (open issuance; a configured server needs --api-key)",
        shown(a),
      );
    }
    expectStatus(a, 200, "{session:{accessToken, expiresAt}}");
    const token = ctx.report.secret(text(a, "session.accessToken"));
    const detail = `device ${ctx.options.serialNumber}, access token ${short(token)} from POST /auth/access-token`;
    return { value: token, detail };
  });
}

/** Initiates a sale or a verification and verifies its signature. */
export function initiateStep(ctx: RunContext, operation: Initiated["operation"], name: string): Promise<Initiated> {
  return ctx.report.step(name, async () => {
    const { options: o } = ctx;
    const sale = operation === "sale";
    const path = sale ? "/sale/initiate-sale" : "/verification/initiate-verification";
    const amountCentis = sale ? SALE_AMOUNT_CENTIS : undefined;
    const a = await postJson(o.url, path, {
      consumer: { device: { serialNumber: o.serialNumber } },
      session: { accessToken: ctx.accessToken },
      transaction: sale ? { amountCentis, currency: CURRENCY } : { currency: CURRENCY },
    });
    expectStatus(a, 200, "{endpointId, invoiceId, session:{nonce, signature}}");
    expectEqual(a, "endpointId", o.endpointId);
    const init: Initiated = {
      operation,
      invoiceId: text(a, "invoiceId"),
      endpointId: o.endpointId,
      nonce: text(a, "session.nonce"),
      signature: text(a, "session.signature"),
      amountCentis,
      currency: CURRENCY,
    };
    const computed = initiateSignature(o.controlKey, {
      ...init,
      accessToken: ctx.accessToken,
      serialNumber: o.serialNumber,
    });
    const over = `accessToken+serialNumber+endpointId+nonce+invoiceId${sale ? "+amountCentis" : ""}+currency`;
    expectSignature(a, "session.signature", computed, over);
    const what = sale ? `${SALE_AMOUNT_CENTIS} ${CURRENCY}` : CURRENCY;
    return { value: init, detail: `invoice ${init.invoiceId} (${what}, endpoint ${o.endpointId}), signature verified` };
  });
}

/** One card of the app's list. */
export interface AppCard {
  readonly clientCardId: string;
  readonly bin: number | undefined;
  readonly createdAt: string;
}

/**
 * Lists the app's cards. The newest (last) must be the card just reported
 * (bin 411111); `before`, when given, is the list after the first report: a
 * redelivery of the same serverCardId must leave it as it was. A fresh device
 * has exactly one card. The answer never holds the gateway's references.
 */
export function listCardsStep(
  ctx: RunContext,
  name: string,
  serverCardId: string,
  before?: readonly AppCard[],
): Promise<AppCard[]> {
  return ctx.report.step(name, async () => {
    const a = await postJson(ctx.options.url, "/cards/list-cards", {
      consumer: { device: { serialNumber: ctx.options.serialNumber } },
      session: { accessToken: ctx.accessToken },
    });
    expectStatus(a, 200, '{"cards":[{clientCardId, bin, createdAt}]}');
    if (a.text.includes(serverCardId) || /serverCardId|uniqueReferenceCardId/.test(a.text)) {
      throw new StepFailure("no serverCardId or uniqueReferenceCardId in the app's answer", shown(a));
    }
    const cards = readCards(a);
    const newest = cards.at(-1);
    if (newest?.bin !== CARD_BIN) throw new StepFailure(`the reported card (bin ${CARD_BIN}) listed last`, shown(a));
    if (ctx.options.freshDevice && cards.length !== 1) throw new StepFailure("exactly one card", shown(a));
    if (before !== undefined) {
      const same = cards.length === before.length && cards.every((c, i) => c.clientCardId === before[i]?.clientCardId);
      if (!same) throw new StepFailure(`the same ${before.length} card(s) as before the redelivery`, shown(a));
    }
    ctx.report.secret(newest.clientCardId);
    const kept = before === undefined ? "" : ", clientCardId kept";
    const detail = `${cards.length} card(s), newest ${short(newest.clientCardId)} bin ${newest.bin}${kept}`;
    return { value: cards, detail };
  });
}

function readCards(a: Answer): AppCard[] {
  const list = at(a.body, "cards");
  if (!Array.isArray(list)) throw new StepFailure('a "cards" array', shown(a));
  return list.map((c) => {
    const clientCardId = at(c, "clientCardId");
    const createdAt = at(c, "createdAt");
    const bin = at(c, "bin");
    if (typeof clientCardId !== "string" || typeof createdAt !== "string" || Number.isNaN(Date.parse(createdAt))) {
      throw new StepFailure("every card with a clientCardId and an RFC 3339 createdAt", shown(a));
    }
    if (bin !== undefined && typeof bin !== "number") throw new StepFailure("bin as a JSON number", shown(a));
    return { clientCardId, createdAt, bin };
  });
}
