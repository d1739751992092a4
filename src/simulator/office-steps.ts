/**
 * The back office's steps (with --api-key): the token from AuthService, the
 * sale followed with WatchSession while it goes initiated → checked → final,
 * and each session's final status read with GetSession.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Operation, type Session, State } from "../../gen/toptechpay/session/v1/session_pb.js";
import type { BackOffice, SessionWatch } from "./back-office.js";
import type { Initiated, RunContext } from "./context.js";
import { StepFailure, short } from "./report.js";

const WATCH_WAIT_MS = 10_000;

/** The token from AuthService.IssueAccessToken. */
export function issuedTokenStep(ctx: RunContext, office: BackOffice): Promise<string> {
  return ctx.report.step("token", async () => {
    const { accessToken, expiresAt } = await office.issueToken(ctx.options.serialNumber);
    if (accessToken.length < 32) throw new StepFailure("an access token of 32-128 characters", short(accessToken));
    ctx.report.secret(accessToken);
    const until = expiresAt ? `, expires ${expiresAt.toISOString()}` : "";
    const detail = `device ${ctx.options.serialNumber}, access token ${short(accessToken)} from AuthService${until}`;
    return { value: accessToken, detail };
  });
}

/** A session's back-office fields as one short text. */
function describe(s: Session | undefined): string {
  if (!s) return "no session";
  const final = s.finalStatus ? ` ${s.finalStatus} order ${s.gatewayOrderId}` : "";
  return `${State[s.state]}${final} (${s.operation === Operation.SALE ? "sale" : "verification"} ${s.invoiceId})`;
}

/**
 * Opens WatchSession on a just-initiated session and expects its first
 * message: state INITIATED. Undefined (a "skip" line) when the server or this
 * build has no WatchSession.
 */
export async function startWatch(
  ctx: RunContext,
  office: BackOffice,
  init: Initiated,
): Promise<SessionWatch | undefined> {
  const watch = office.watch(init.invoiceId);
  if (!watch) {
    ctx.report.skip("watch-session", "this build has no SessionService.WatchSession");
    return undefined;
  }
  let first: Session | "ended";
  try {
    first = await watch.next(WATCH_WAIT_MS);
  } catch (e) {
    if (e instanceof ConnectError && e.code === Code.Unimplemented) {
      watch.close();
      ctx.report.skip("watch-session", "the server has no SessionService.WatchSession");
      return undefined;
    }
    first = "ended";
    await ctx.report.step("watch-session", () => Promise.reject(e));
  }
  await expectWatched(ctx, watch, first, State.INITIATED, "first message");
  return watch;
}

/** Reads the watch's next message and expects `state` (after FINAL: the end of the stream too). */
export async function watchNext(ctx: RunContext, watch: SessionWatch, state: State): Promise<void> {
  let next: Session | "ended";
  try {
    next = await watch.next(WATCH_WAIT_MS);
  } catch (e) {
    watch.close();
    await ctx.report.step("watch-session", () => Promise.reject(e));
    return;
  }
  await expectWatched(ctx, watch, next, state, "next message");
}

async function expectWatched(
  ctx: RunContext,
  watch: SessionWatch,
  got: Session | "ended",
  state: State,
  which: string,
): Promise<void> {
  await ctx.report.step("watch-session", async () => {
    if (got === "ended" || got.state !== state) {
      watch.close();
      throw new StepFailure(
        `${which}: a session in state ${State[state]}`,
        got === "ended" ? "the end of the stream" : describe(got),
      );
    }
    if (state !== State.FINAL) return { value: undefined, detail: `${which}: ${describe(got)}` };
    const after = await watch.next(WATCH_WAIT_MS).catch((e: unknown) => e);
    watch.close();
    if (after !== "ended") {
      throw new StepFailure(
        "the stream to end (OK) after the FINAL message",
        after instanceof Error ? after.message : describe(after as Session),
      );
    }
    return { value: undefined, detail: `${which}: ${describe(got)}, then the stream ended` };
  });
}

/** GetSession: the session must be final, approved, with the callback's order id and the initiate's values. */
export function getSessionStep(
  ctx: RunContext,
  office: BackOffice,
  init: Initiated,
  orderId: string,
  name: string,
): Promise<void> {
  return ctx.report.step(name, async () => {
    const s = await office.getSession(init.invoiceId);
    const want = `FINAL approved order ${orderId} (${init.operation} ${init.invoiceId})`;
    const amountOk = s?.amountCentis === (init.amountCentis === undefined ? undefined : BigInt(init.amountCentis));
    const ok =
      s !== undefined &&
      describe(s) === want &&
      s.serialNumber === ctx.options.serialNumber &&
      s.endpointId === init.endpointId &&
      s.currency === init.currency &&
      amountOk &&
      s.finalAt !== undefined &&
      s.checkedAt !== undefined;
    if (!ok) {
      throw new StepFailure(
        `${want}, device ${ctx.options.serialNumber}, endpoint ${init.endpointId}, ${init.amountCentis ?? "no"} amount, ${init.currency}, checkedAt and finalAt set`,
        s
          ? `${describe(s)}, device ${s.serialNumber}, endpoint ${s.endpointId}, ${s.amountCentis ?? "no"} amount, ${s.currency}, checkedAt ${s.checkedAt ? "set" : "unset"}, finalAt ${s.finalAt ? "set" : "unset"}`
          : "no session",
      );
    }
    return { value: undefined, detail: describe(s) };
  });
}
