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

/** A watch's next message, or why there is none. */
type Read = { readonly got: Session | "ended" } | { readonly error: unknown };

const read = (watch: SessionWatch): Promise<Read> =>
  watch.next(WATCH_WAIT_MS).then(
    (got) => ({ got }),
    (error: unknown) => ({ error }),
  );

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
  const first = await read(watch);
  if ("error" in first && first.error instanceof ConnectError && first.error.code === Code.Unimplemented) {
    watch.close();
    ctx.report.skip("watch-session", "the server has no SessionService.WatchSession");
    return undefined;
  }
  await expectWatched(ctx, watch, first, State.INITIATED, "first message");
  return watch;
}

/** Reads the watch's next message and expects `state` (after FINAL: the end of the stream too). */
export async function watchNext(ctx: RunContext, watch: SessionWatch, state: State): Promise<void> {
  await expectWatched(ctx, watch, await read(watch), state, "next message");
}

function expectWatched(ctx: RunContext, watch: SessionWatch, r: Read, state: State, which: string): Promise<void> {
  return ctx.report.step("watch-session", async () => {
    const want = `${which}: a session in state ${State[state]}`;
    if ("error" in r || r.got === "ended" || r.got.state !== state) {
      watch.close();
      if ("error" in r) throw r.error;
      throw new StepFailure(want, r.got === "ended" ? "the end of the stream" : describe(r.got));
    }
    if (state !== State.FINAL) return { value: undefined, detail: `${which}: ${describe(r.got)}` };
    const after = await read(watch);
    watch.close();
    if (!("got" in after) || after.got !== "ended") {
      const got = "error" in after ? after.error : after.got;
      throw new StepFailure(
        "the stream to end (OK) after the FINAL message",
        got instanceof Error ? got.message : describe(got as Session),
      );
    }
    return { value: undefined, detail: `${which}: ${describe(r.got)}, then the stream ended` };
  });
}

/** What GetSession shows of a session, as one comparable text. */
function sessionText(v: {
  head: string;
  serial: string;
  endpoint: string;
  amount: bigint | number | undefined;
  currency: string;
  checked: boolean;
  final: boolean;
}): string {
  const times = `checkedAt ${v.checked ? "set" : "unset"}, finalAt ${v.final ? "set" : "unset"}`;
  return `${v.head}, device ${v.serial}, endpoint ${v.endpoint}, amount ${v.amount ?? "none"} ${v.currency}, ${times}`;
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
    const want = sessionText({
      head: `FINAL approved order ${orderId} (${init.operation} ${init.invoiceId})`,
      serial: ctx.options.serialNumber,
      endpoint: init.endpointId,
      amount: init.amountCentis,
      currency: init.currency,
      checked: true,
      final: true,
    });
    const got =
      s &&
      sessionText({
        head: describe(s),
        serial: s.serialNumber,
        endpoint: s.endpointId,
        amount: s.amountCentis,
        currency: s.currency,
        checked: s.checkedAt !== undefined,
        final: s.finalAt !== undefined,
      });
    if (got !== want) throw new StepFailure(want, got ?? "no session");
    return { value: undefined, detail: describe(s) };
  });
}
