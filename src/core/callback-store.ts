/**
 * TopTechPay's final-status callbacks, as stored: every callback whose
 * `control` verified, once per duplicate key (status + type + orderid +
 * client_orderid), matched to a session or kept unmatched (shared spec
 * gateway.md, "Final-status callback").
 */

/** One verified callback. `control` is never part of it: nothing stores or logs it. */
export interface GatewayCallback {
  /** Drawn by this server. */
  readonly callbackId: string;
  /** The endpoint of the callback URL's path. */
  readonly endpointId: string;
  readonly status: string;
  readonly type: string;
  /** The gateway's order id (`orderid`). */
  readonly orderId: string;
  /** `client_orderid`: this server's invoice id, for the gateway's order of one of our sessions. */
  readonly clientOrderId: string;
  readonly merchantOrder: string | undefined;
  readonly amount: string | undefined;
  /** Every parameter as received except `control`, for the audit trail. */
  readonly params: Readonly<Record<string, string>>;
  readonly receivedAt: Date;
}

/** What storing a callback did. */
export interface CallbackOutcome {
  /** false: a callback with the same duplicate key was stored before; nothing changed but its delivery count. */
  readonly stored: boolean;
  /**
   * The session it matched (client_orderid, else merchant_order, among the
   * sessions of the callback's endpoint), or undefined: kept unmatched. For a
   * duplicate, the session the first delivery matched.
   */
  readonly invoiceId: string | undefined;
  /**
   * true: this callback set the session's final status. false for a
   * duplicate, an unmatched callback, and a callback for a session that was
   * already final: the first final status stays (a later, different one is
   * kept only as its own callback row).
   */
  readonly finalized: boolean;
}

/** A callback as stored, with what happened to it since. */
export interface StoredCallback extends GatewayCallback {
  /** The session it matched, or undefined. */
  readonly invoiceId: string | undefined;
  /** How many times the gateway delivered it (1 + duplicates). */
  readonly deliveries: number;
  /** When the last delivery arrived. */
  readonly lastReceivedAt: Date;
}

/** What the callback asks of the store. Rejects with StoreUnavailableError when unreachable. */
export interface CallbackStore {
  /**
   * In one transaction, committed durably before it resolves: stores the
   * callback unless its duplicate key is known (then counts the delivery),
   * and when it is new and matches a session that is not final yet, sets
   * that session's final status, gateway order id and final time (state
   * `final`). Of two identical callbacks at once, on any number of
   * instances, exactly one is stored; the other counts as a delivery.
   */
  recordCallback(callback: GatewayCallback): Promise<CallbackOutcome>;
  /** The callbacks matched to a session, oldest first. */
  findCallbacks(invoiceId: string): Promise<StoredCallback[]>;
}
