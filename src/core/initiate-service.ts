/**
 * The one place a sale or verification is started, whatever protocol carried
 * it: validate, check the access token, pick the endpoint, draw the ids, sign,
 * store durably, answer. Adapters translate in and out of this.
 */
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { EndpointDirectory } from "./endpoints.js";
import { AppError, toAppError } from "./error-catalogue.js";
import { type HashedInitiateRequest, type Operation, parseInitiateRequest } from "./initiate-request.js";
import { type SessionRecord, type SessionStore, StoreUnavailableError } from "./session-store.js";
import { signSession } from "./signature.js";

/** The documented success answer, identical for both operations. */
export interface InitiateResult {
  readonly endpointId: string;
  readonly invoiceId: string;
  readonly session: { readonly nonce: string; readonly signature: string };
}

/**
 * Decides whether an access token may start a session for a device. Throws
 * AppError when it may not. Until tokens are issued by this server, only the
 * documented form (checked by validation) is required.
 */
export type AccessTokenCheck = (request: HashedInitiateRequest) => Promise<void> | void;

/** What the service needs; all of it is built once at start. */
export interface InitiateServiceDeps {
  readonly endpoints: EndpointDirectory;
  readonly store: SessionStore;
  readonly checkAccessToken?: AccessTokenCheck;
  /**
   * The merchant's risk rules (src/core/filters/), run after the token check
   * and the currency check, before any id is drawn or anything stored, so a
   * refused request leaves no session. Throws AppError (cause FILTERED).
   */
  readonly filters?: (request: HashedInitiateRequest) => Promise<void> | void;
  readonly now?: () => Date;
}

/** Starts sessions. */
export interface InitiateService {
  /**
   * Runs the whole flow for a JSON-shaped body. Resolves with the answer
   * after the session is committed; rejects with AppError only.
   */
  initiate(operation: Operation, body: unknown): Promise<InitiateResult>;
}

// Nonce bytes are drawn from the CSPRNG 128 nonces at a time (as randomUUID
// does for UUIDs): one system call instead of one per request. Each byte is
// handed out once and the pool is replaced, never reused.
const NONCE_BYTES = 32;
const POOL_BYTES = NONCE_BYTES * 128;
let noncePool = Buffer.alloc(0);
let noncePoolOffset = 0;

/** A nonce: 32 bytes from the CSPRNG, base64url (43 URL-safe characters). */
export function drawNonce(): string {
  if (noncePoolOffset + NONCE_BYTES > noncePool.length) {
    noncePool = randomBytes(POOL_BYTES);
    noncePoolOffset = 0;
  }
  const nonce = noncePool.toString("base64url", noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

/** SHA-256 of an access token, hex; what the store keeps instead of the token. */
export function hashAccessToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/** Builds the service from its dependencies. */
export function createInitiateService(deps: InitiateServiceDeps): InitiateService {
  const now = deps.now ?? (() => new Date());

  async function run(operation: Operation, body: unknown): Promise<InitiateResult> {
    const parsed = parseInitiateRequest(operation, body);
    const request: HashedInitiateRequest = { ...parsed, accessTokenHash: hashAccessToken(parsed.accessToken) };
    if (deps.checkAccessToken) await deps.checkAccessToken(request);
    const endpoint = deps.endpoints.find(operation, request.currency);
    if (!endpoint) {
      throw new AppError("CURRENCY_NOT_ACCEPTED", `No endpoint accepts ${operation} in ${request.currency}.`);
    }
    if (deps.filters) await deps.filters(request);
    const invoiceId = randomUUID();
    const nonce = drawNonce();
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
      createdAt: now(),
    };
    try {
      await deps.store.insertSession(record);
    } catch (e) {
      if (e instanceof StoreUnavailableError) {
        throw new AppError("STORE_UNAVAILABLE", "The session store is unavailable; nothing was started. Retry later.", {
          logDetail: e.message,
          cause: e,
        });
      }
      throw e;
    }
    return { endpointId: endpoint.id, invoiceId, session: { nonce, signature } };
  }

  return {
    initiate: (operation, body) =>
      run(operation, body).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
