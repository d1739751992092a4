/**
 * SessionService over Connect, gRPC and gRPC-Web: the back office's reads of
 * sessions, behind the same API keys as AuthService. What it answers never
 * holds a token, a hash, a nonce or a signature (the core's SessionView has
 * none to give).
 *
 * WatchSession is a server stream that may last minutes, so it lives outside
 * the request limits (the server wires it so): admission does not count it
 * (maxWatches does, in the core), the server's request deadline does not
 * apply (the caller's does, and the core's watchMaxSeconds).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import {
  GetSessionResponseSchema,
  ListSessionsResponseSchema,
  Operation as ProtoOperation,
  type Session,
  SessionSchema,
  SessionService,
  State,
  WatchSessionResponseSchema,
} from "../../gen/toptechpay/session/v1/session_pb.js";
import type { SessionQueries, SessionView } from "../core/session-queries.js";
import type { SessionState } from "../core/session-state.js";
import type { SessionWatcher } from "../core/session-watch.js";
import { apiKeyGuard } from "./api-key-guard.js";
import { anyToConnectError, toConnectError } from "./connect-errors.js";
import { deadlineError } from "./deadline.js";
import { kRequestState } from "./request-state.js";

const STATES: Record<SessionState, State> = {
  initiated: State.INITIATED,
  checked: State.CHECKED,
  final: State.FINAL,
};

const FILTER_STATES = new Map<State, SessionState>([
  [State.INITIATED, "initiated"],
  [State.CHECKED, "checked"],
  [State.FINAL, "final"],
]);

function toMessage(s: SessionView): Session {
  return create(SessionSchema, {
    invoiceId: s.invoiceId,
    operation: s.operation === "sale" ? ProtoOperation.SALE : ProtoOperation.VERIFICATION,
    endpointId: s.endpointId,
    amountCentis: s.amountCentis === undefined ? undefined : BigInt(s.amountCentis),
    currency: s.currency,
    serialNumber: s.serialNumber,
    state: STATES[s.state],
    createdAt: timestampFromDate(s.createdAt),
    checkedAt: s.checkedAt && timestampFromDate(s.checkedAt),
    finalStatus: s.finalStatus ?? "",
    gatewayOrderId: s.gatewayOrderId ?? "",
    finalAt: s.finalAt && timestampFromDate(s.finalAt),
  });
}

/** The path of WatchSession, which admission leaves to the watcher's own limit. */
export const WATCH_SESSION_PATH = `/${SessionService.typeName}/${SessionService.method.watchSession.name}`;

type Guard = ReturnType<typeof apiKeyGuard>;

/**
 * One WatchSession call: the API key first (its refusal carries ErrorDetail
 * as for the unary methods), then the core's stream. The core ends quietly
 * when the call's signal aborts; a caller's deadline is then answered as
 * DEADLINE_EXCEEDED, a caller gone needs no answer.
 */
async function* watchSession(guarded: Guard, watcher: SessionWatcher, invoiceId: string, ctx: HandlerContext) {
  await guarded(ctx, async () => undefined);
  const log = ctx.values.get(kRequestState);
  if (log) log.invoiceId = invoiceId;
  try {
    for await (const session of watcher.watch(invoiceId, ctx.signal)) {
      yield create(WatchSessionResponseSchema, { session: toMessage(session) });
    }
  } catch (e) {
    const { connectError, appError } = anyToConnectError(e);
    if (log) log.error = appError;
    throw connectError;
  }
  if (!ctx.signal.aborted) return;
  const reason = ConnectError.from(ctx.signal.reason);
  if (reason.code !== Code.DeadlineExceeded) throw reason;
  const error = deadlineError(0, true);
  if (log) log.error = error;
  throw toConnectError(error);
}

/** Registers SessionService on a Connect router, behind the API keys. */
export function registerSessionService(
  router: ConnectRouter,
  queries: SessionQueries,
  watcher: SessionWatcher,
  apiKeys: readonly string[],
): void {
  const guarded = apiKeyGuard(apiKeys);
  router.service(SessionService, {
    getSession: (req, ctx) =>
      guarded(ctx, async () =>
        create(GetSessionResponseSchema, { session: toMessage(await queries.get(req.invoiceId)) }),
      ),
    listSessions: (req, ctx) =>
      guarded(ctx, async () => {
        const page = await queries.list({
          serialNumber: req.serialNumber,
          state: FILTER_STATES.get(req.state),
          createdFrom: req.createdFrom && timestampDate(req.createdFrom),
          createdBefore: req.createdBefore && timestampDate(req.createdBefore),
          pageSize: req.pageSize,
          pageToken: req.pageToken,
        });
        return create(ListSessionsResponseSchema, {
          sessions: page.sessions.map(toMessage),
          nextPageToken: page.nextPageToken,
        });
      }),
    watchSession: (req, ctx) => watchSession(guarded, watcher, req.invoiceId, ctx),
  });
}
