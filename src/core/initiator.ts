/**
 * The one place a sale or verification is started, whatever protocol carried
 * it: validate, check the access token, pick the endpoint, run the merchant's
 * filters, draw the ids, sign, store durably, answer. Adapters translate in
 * and out of this.
 */
import { hash } from "node:crypto";
import type { EndpointDirectory } from "./endpoints.js";
import { AppError, toAppError } from "./error-catalogue.js";
import { type HashedInitiateRequest, type Operation, parseInitiateRequest } from "./initiate-request.js";
import { drawNonce, newInvoiceId } from "./session-ids.js";
import type { SessionRecord, SessionStore } from "./session-store.js";
import { signSession } from "./signature.js";
import { NOTHING_STARTED, rethrowStoreFailure } from "./store-failure.js";

/** The documented success answer, identical for both operations. */
export interface InitiateResult {
  readonly endpointId: string;
  readonly invoiceId: string;
  readonly session: { readonly nonce: string; readonly signature: string };
}

/**
 * Decides whether an access token may start a session for a device: the
 * server's token service (src/core/access-tokens.ts, `check`) looks the token
 * up by hash. Throws AppError (ACCESS_TOKEN_INVALID) when it may not.
 */
export type AccessTokenCheck = (request: HashedInitiateRequest) => Promise<void> | void;

/** What the initiator needs; all of it is built once at start. */
export interface InitiatorDeps {
  readonly endpoints: EndpointDirectory;
  readonly store: SessionStore;
  /**
   * Required: there is no "no check" mode. A wiring that forgets it fails to
   * compile and, from untyped callers, throws at construction, rather than
   * starting sessions for any well-formed token.
   */
  readonly checkAccessToken: AccessTokenCheck;
  /**
   * The merchant's risk rules (src/core/filters/), run after the token check
   * and the currency check, before any id is drawn or anything stored, so a
   * refused request leaves no session. Throws AppError (cause FILTERED).
   */
  readonly filters?: (request: HashedInitiateRequest) => Promise<void> | void;
  readonly now?: () => Date;
}

/** Starts sessions. */
export interface Initiator {
  /**
   * Runs the whole flow for a JSON-shaped body. Resolves with the answer
   * after the session is committed; rejects with AppError only.
   */
  initiate(operation: Operation, body: unknown): Promise<InitiateResult>;
}

/** SHA-256 of an access token, hex; what the store keeps instead of the token. */
export function hashAccessToken(token: string): string {
  // One-shot: no Hash object per request (Node >= 20.12).
  return hash("sha256", token, "hex");
}

/** Builds the initiator from its dependencies. */
export function createInitiator(deps: InitiatorDeps): Initiator {
  if (typeof deps.checkAccessToken !== "function") {
    throw new TypeError("createInitiator: checkAccessToken is required (the access-token check)");
  }
  const now = deps.now ?? (() => new Date());

  async function run(operation: Operation, body: unknown): Promise<InitiateResult> {
    const parsed = parseInitiateRequest(operation, body);
    // A literal of one fixed shape: cheaper per request than a spread.
    const request: HashedInitiateRequest = {
      operation: parsed.operation,
      serialNumber: parsed.serialNumber,
      imei: parsed.imei,
      ipAddresses: parsed.ipAddresses,
      location: parsed.location,
      accessToken: parsed.accessToken,
      currency: parsed.currency,
      amountCentis: parsed.amountCentis,
      accessTokenHash: hashAccessToken(parsed.accessToken),
    };
    await deps.checkAccessToken(request);
    const endpoint = deps.endpoints.find(operation, request.currency);
    if (!endpoint) {
      throw new AppError("CURRENCY_NOT_ACCEPTED", `No endpoint accepts ${operation} in ${request.currency}.`);
    }
    if (deps.filters) await deps.filters(request);
    const createdAt = now();
    const invoiceId = newInvoiceId(createdAt.getTime());
    const nonce = drawNonce(createdAt.getTime());
    const signature = signSession(endpoint.controlKey, {
      accessToken: request.accessToken,
      serialNumber: request.serialNumber,
      endpointId: endpoint.id,
      nonce,
      invoiceId,
      amountCentis: request.amountCentis,
      currency: request.currency,
    });
    const record: SessionRecord = {
      invoiceId,
      operation,
      endpointId: endpoint.id,
      nonce,
      signature,
      amountCentis: request.amountCentis,
      currency: request.currency,
      serialNumber: request.serialNumber,
      imei: request.imei,
      ipAddresses: request.ipAddresses,
      location: request.location,
      accessTokenHash: request.accessTokenHash,
      createdAt,
    };
    await deps.store.insertSession(record).catch((e: unknown) => rethrowStoreFailure(e, NOTHING_STARTED));
    return { endpointId: endpoint.id, invoiceId, session: { nonce, signature } };
  }

  return {
    initiate: (operation, body) =>
      run(operation, body).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
