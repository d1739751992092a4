/**
 * TopTechPay's final-status callback (shared spec gateway.md), whatever
 * carried it: check the parameters' shape, find the path's endpoint, verify
 * `control`, store the callback durably (once per duplicate key) and report
 * what happened, so the edge answers 200 and logs it.
 *
 * Order of the checks: the parameters' shape (limits, repeats), then the
 * endpoint (404), then `control` (403), and only then the required
 * parameters (400): a caller without the control key learns nothing beyond
 * the documented form, and `control` is computed over whatever status,
 * orderid and client_orderid were sent (empty when absent).
 */
import { randomUUID } from "node:crypto";
import { callbackParams, requireCallbackParams } from "./callback-params.js";
import type { CallbackStore, GatewayCallback } from "./callback-store.js";
import { sameText } from "./constant-time.js";
import type { EndpointDirectory } from "./endpoints.js";
import { AppError } from "./error-catalogue.js";
import type { SessionChanges } from "./session-changes.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** What a callback did, for the metrics: one of a closed set. */
export type CallbackCount = "stored" | "duplicate" | "unmatched";

/** A callback that was received: what the edge answers and logs. Never holds `control`. */
export interface CallbackResult {
  /** true: the same callback (duplicate key) was stored before; only its delivery was counted. */
  readonly duplicate: boolean;
  /** The session it matched, or undefined: kept unmatched. */
  readonly invoiceId: string | undefined;
  /** true: this callback set the session's final status; false when the session was final already. */
  readonly finalized: boolean;
  readonly endpointId: string;
  readonly status: string;
  readonly type: string;
  readonly orderId: string;
  readonly clientOrderId: string;
}

/** What the service needs; built once at start. */
export interface CallbackServiceDeps {
  readonly endpoints: EndpointDirectory;
  readonly store: CallbackStore;
  /** Told after a callback changed a session (WatchSession); optional. */
  readonly changes?: SessionChanges | undefined;
  /** Counts each stored or duplicate callback (cp_callbacks_total); optional. */
  readonly count?: ((outcome: CallbackCount) => void) | undefined;
  readonly now?: () => Date;
}

/** Receives final-status callbacks. */
export interface CallbackService {
  /**
   * Verifies and stores one callback: `endpointId` from the path, `pairs`
   * every parameter as sent (query string or form body, in order). Rejects
   * with AppError only; nothing is stored on any refusal.
   */
  receive(endpointId: string, pairs: Iterable<readonly [string, string]>): Promise<CallbackResult>;
}

function controlInvalid(detail: string): AppError {
  return new AppError("CALLBACK_CONTROL_INVALID", "The callback's control does not verify.", { logDetail: detail });
}

const unavailable = (e: unknown): never =>
  rethrowStoreFailure(e, "The callback store is unavailable; nothing was stored. Retry later.");

/** Builds the service from its dependencies. */
export function createCallbackService(deps: CallbackServiceDeps): CallbackService {
  const now = deps.now ?? (() => new Date());
  return {
    async receive(endpointId, pairs) {
      const params = callbackParams(pairs);
      const endpoint = deps.endpoints.byId(endpointId);
      if (!endpoint) throw new AppError("ENDPOINT_UNKNOWN", "No endpoint of this server has this id.");
      const text = (name: string) => params.get(name) ?? "";
      const control = params.get("control");
      if (control === undefined || control === "") throw controlInvalid("no control parameter");
      const expected = endpoint.callbackControl?.(text("status"), text("orderid"), text("client_orderid"));
      // Upper-case hex is taken too: the digest's case carries nothing secret.
      if (expected === undefined || !sameText(control.toLowerCase(), expected)) {
        throw controlInvalid(expected === undefined ? "the endpoint has no control key text" : "control differs");
      }
      requireCallbackParams(params);

      const { control: _, ...kept } = Object.fromEntries(params);
      const callback: GatewayCallback = {
        callbackId: randomUUID(),
        endpointId,
        status: text("status"),
        type: text("type"),
        orderId: text("orderid"),
        clientOrderId: text("client_orderid"),
        merchantOrder: params.get("merchant_order") || undefined,
        amount: params.get("amount") || undefined,
        params: kept,
        receivedAt: now(),
      };
      const outcome = await deps.store.recordCallback(callback).catch(unavailable);
      deps.count?.(!outcome.stored ? "duplicate" : outcome.invoiceId === undefined ? "unmatched" : "stored");
      if (outcome.finalized && outcome.invoiceId !== undefined) {
        // Never rejects by contract; a lost announcement is caught up by the watcher's reads.
        void deps.changes?.announce(outcome.invoiceId).catch(() => undefined);
      }
      return {
        duplicate: !outcome.stored,
        invoiceId: outcome.invoiceId,
        finalized: outcome.finalized,
        endpointId,
        status: callback.status,
        type: callback.type,
        orderId: callback.orderId,
        clientOrderId: callback.clientOrderId,
      };
    },
  };
}
