/**
 * SessionService over Connect, gRPC and gRPC-Web: the back office's reads of
 * sessions, behind the same API keys as AuthService. What it answers never
 * holds a token, a hash, a nonce or a signature (the core's SessionView has
 * none to give).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  GetSessionResponseSchema,
  ListSessionsResponseSchema,
  Operation as ProtoOperation,
  type Session,
  SessionSchema,
  SessionService,
  State,
} from "../../gen/toptechpay/session/v1/session_pb.js";
import type { SessionQueries, SessionView } from "../core/session-queries.js";
import type { SessionState } from "../core/session-state.js";
import { apiKeyGuard } from "./api-key-guard.js";

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

/** Registers SessionService on a Connect router, behind the API keys. */
export function registerSessionService(
  router: ConnectRouter,
  queries: SessionQueries,
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
  });
}
