/**
 * One simulation: the whole flow of issue 14 played against a running server
 * as the app and TopTechPay (and, with an API key, the back office), one
 * output line per step, stopping at the first step that fails.
 */
import { State } from "../../gen/toptechpay/session/v1/session_pb.js";
import { initiateStep, listCardsStep, openIssuanceStep } from "./app-steps.js";
import type { SimulatorOptions } from "./args.js";
import { BackOffice } from "./back-office.js";
import { drawCard, drawGatewayToken, type RunContext } from "./context.js";
import { callbackStep, checkStep, notificationStep } from "./gateway-steps.js";
import { getSessionStep, issuedTokenStep, startWatch, watchNext } from "./office-steps.js";
import { type Output, Reporter, RunStopped } from "./report.js";

/** Runs the simulation, writing its lines to `out`; resolves with the exit code (0: every step passed). */
export async function runSimulation(options: SimulatorOptions, out: Output): Promise<number> {
  const report = new Reporter(out);
  report.secret(options.controlKey);
  if (options.apiKey) report.secret(options.apiKey);
  report.note(
    `Simulating TopTechPay for endpoint ${options.endpointId}, device ${options.serialNumber}: ` +
      `app -> ${options.url}, TopTechPay -> ${options.gatewayUrl}` +
      (options.apiKey ? ", back office with an API key" : ""),
  );
  const ctx: RunContext = { options, report, accessToken: "" };
  const office = options.apiKey ? new BackOffice(options.url, options.apiKey) : undefined;
  try {
    await play(ctx, office);
  } catch (e) {
    if (!(e instanceof RunStopped)) throw e;
  } finally {
    office?.close();
  }
  return report.verdict();
}

async function play(ctx: RunContext, office: BackOffice | undefined): Promise<void> {
  ctx.accessToken = office ? await issuedTokenStep(ctx, office) : await openIssuanceStep(ctx);

  // A first sale with a new card: TopTechPay reports the card it created.
  const sale = await initiateStep(ctx, "sale", "initiate-sale");
  const watch = office ? await startWatch(ctx, office, sale) : undefined;
  const saleToken = drawGatewayToken(ctx.report);
  await checkStep(ctx, sale, saleToken, "check-sale");
  if (watch) await watchNext(ctx, watch, State.CHECKED);
  const card = drawCard(ctx.report);
  await notificationStep(ctx, sale, saleToken, card, "sale-notification");
  const saleOrder = await callbackStep(ctx, sale, "sale-callback");
  if (watch) await watchNext(ctx, watch, State.FINAL);
  const cards = await listCardsStep(ctx, "list-cards", card.serverCardId);
  const clientCardId = cards.at(-1)?.clientCardId as string;

  // A repeat sale paid with that card's clientCardId; TopTechPay delivers the same card again.
  const repeat = await initiateStep(ctx, "sale", "repeat-initiate-sale");
  const repeatToken = drawGatewayToken(ctx.report);
  await checkStep(ctx, repeat, repeatToken, "repeat-check-sale", { clientCardId, serverCardId: card.serverCardId });
  await notificationStep(ctx, repeat, repeatToken, card, "repeat-sale-notification");
  await listCardsStep(ctx, "list-cards-again", card.serverCardId, cards);
  const repeatOrder = await callbackStep(ctx, repeat, "repeat-sale-callback");

  // A verification: its notification carries the reference at the top level.
  const verification = await initiateStep(ctx, "verification", "initiate-verification");
  const verificationToken = drawGatewayToken(ctx.report);
  await checkStep(ctx, verification, verificationToken, "check-verification");
  await notificationStep(ctx, verification, verificationToken, drawCard(ctx.report), "verification-notification");
  const verificationOrder = await callbackStep(ctx, verification, "verification-callback");

  if (office) {
    await getSessionStep(ctx, office, sale, saleOrder, "get-session-sale");
    await getSessionStep(ctx, office, repeat, repeatOrder, "get-session-repeat-sale");
    await getSessionStep(ctx, office, verification, verificationOrder, "get-session-verification");
  }
}
