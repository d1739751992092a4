/**
 * TopTechPay's calls: the check (plain, or a repeat sale paid with a
 * clientCardId), the card mapping notification and the final-status
 * callback. Every answer's signature is verified here.
 */
import { drawOrderId, type GatewayCard, type Initiated, type RunContext, SALE_AMOUNT_CENTIS } from "./context.js";
import { StepFailure, short } from "./report.js";
import { callbackControl, checkSignature, notificationSignature } from "./signatures.js";
import { at, expectEqual, expectSignature, expectStatus, getWithQuery, postJson, shown } from "./wire.js";

/** A card the app pays with: its clientCardId, and the serverCardId the check must answer for it. */
export interface PaidWithCard {
  readonly clientCardId: string;
  readonly serverCardId: string;
}

/** Checks a session as TopTechPay does, bound to `token`; with `card`, as a repeat sale. */
export function checkStep(
  ctx: RunContext,
  init: Initiated,
  token: string,
  name: string,
  card?: PaidWithCard,
): Promise<void> {
  return ctx.report.step(name, async () => {
    const { options: o } = ctx;
    const a = await postJson(o.gatewayUrl, `/${init.operation}/${init.invoiceId}/check`, {
      consumer: { device: { serialNumber: o.serialNumber } },
      session: { accessToken: ctx.accessToken, nonce: init.nonce, signature: init.signature, token },
      ...(card ? { sourceOfFunds: { reference: { clientCardId: card.clientCardId } } } : {}),
    });
    const answers = card ? ', "sourceOfFunds":{"reference":{serverCardId}}' : "";
    expectStatus(a, 200, `{invoiceId, session:{checkSignature, nonce, token}${answers}}`);
    expectEqual(a, "invoiceId", init.invoiceId);
    expectEqual(a, "session.nonce", init.nonce, "the initiate's nonce");
    expectEqual(a, "session.token", token, "the check's token");
    if (card) expectEqual(a, "sourceOfFunds.reference.serverCardId", card.serverCardId, "the card's serverCardId");
    else if (at(a.body, "sourceOfFunds") !== undefined) throw new StepFailure("no sourceOfFunds", shown(a));
    const fields = { ...init, serialNumber: o.serialNumber, serverCardId: card?.serverCardId };
    const over = `serialNumber+nonce+endpointId+invoiceId${card ? "+serverCardId" : ""}`;
    expectSignature(a, "session.checkSignature", checkSignature(o.controlKey, fields), over);
    const paid = card ? `, paid with ${short(card.clientCardId)} -> serverCardId answered` : "";
    return { value: undefined, detail: `bound to token ${short(token)}${paid}, checkSignature verified` };
  });
}

/**
 * Posts the card mapping notification of a checked session: a sale's
 * reference inside sourceCard, a verification's at the top level.
 */
export function notificationStep(
  ctx: RunContext,
  init: Initiated,
  token: string,
  card: GatewayCard,
  name: string,
): Promise<void> {
  return ctx.report.step(name, async () => {
    const { options: o } = ctx;
    const reference = { serverCardId: card.serverCardId, uniqueReferenceCardId: card.uniqueReferenceCardId };
    const common = {
      consumer: { device: { serialNumber: o.serialNumber } },
      session: { accessToken: ctx.accessToken, token },
    };
    const body =
      init.operation === "sale"
        ? { ...common, sourceCard: { bin: card.bin, reference } }
        : { ...common, sourceCard: { bin: card.bin }, reference };
    const a = await postJson(o.gatewayUrl, `/${init.operation}/notification`, body);
    expectStatus(a, 200, "{invoiceId, session:{checkSignature, nonce, token}}");
    expectEqual(a, "invoiceId", init.invoiceId);
    expectEqual(a, "session.nonce", init.nonce, "the initiate's nonce");
    expectEqual(a, "session.token", token, "the notification's token");
    if (a.text.includes("clientCardId") || a.text.includes(card.serverCardId)) {
      throw new StepFailure("no card reference in TopTechPay's answer", shown(a));
    }
    const computed = notificationSignature(o.controlKey, {
      nonce: init.nonce,
      endpointId: o.endpointId,
      invoiceId: init.invoiceId,
    });
    expectSignature(a, "session.checkSignature", computed, "nonce+endpointId+invoiceId");
    const where = init.operation === "sale" ? "sourceCard.reference" : "reference";
    return {
      value: undefined,
      detail: `serverCardId ${short(card.serverCardId)} in ${where}, checkSignature verified`,
    };
  });
}

/**
 * Sends the final-status callback (approved) as TopTechPay does: a GET to
 * /callback/{endpointId} with `control` = SHA-1 over status + orderid +
 * client_orderid + the control key as text. Resolves with the order id.
 */
export function callbackStep(ctx: RunContext, init: Initiated, name: string): Promise<string> {
  return ctx.report.step(name, async () => {
    const { options: o } = ctx;
    const orderid = drawOrderId();
    const status = "approved";
    const control = ctx.report.secret(
      callbackControl(o.controlKey, { status, orderid, clientOrderid: init.invoiceId }),
    );
    const params: Record<string, string> = {
      status,
      type: init.operation,
      orderid,
      client_orderid: init.invoiceId,
      merchant_order: init.invoiceId,
      ...(init.operation === "sale" ? { amount: (SALE_AMOUNT_CENTIS / 100).toFixed(2) } : {}),
      control,
    };
    const a = await getWithQuery(o.gatewayUrl, `/callback/${encodeURIComponent(o.endpointId)}`, params);
    expectStatus(a, 200, '{"received":true,"duplicate":false}');
    if (at(a.body, "received") !== true || at(a.body, "duplicate") !== false) {
      throw new StepFailure('200 {"received":true,"duplicate":false}', shown(a));
    }
    return { value: orderid, detail: `${status}, orderid ${orderid}, control computed here: received` };
  });
}
