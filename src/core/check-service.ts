/**
 * TopTechPay's check of a session this server started (check sale, check
 * verification; shared spec gateway.md), whatever protocol carried it:
 * validate, find the session, compare what was presented with what was
 * stored, bind TopTechPay's session token durably, and answer with the
 * checkSignature.
 */
import type { AccessTokenStore } from "./access-token-store.js";
import type { CardStore, DeviceCard } from "./card-store.js";
import { parseCheckRequest } from "./check-request.js";
import type { EndpointDirectory } from "./endpoints.js";
import { AppError, toAppError } from "./error-catalogue.js";
import type { Operation } from "./initiate-request.js";
import { hashAccessToken } from "./initiator.js";
import { sameText } from "./same-text.js";
import { GatewayTokenInUseError, type SessionCheckStore, type StoredSession } from "./session-state.js";
import { signCheck } from "./signature.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** The documented success answer of a check. */
export interface CheckResult {
  readonly invoiceId: string;
  readonly session: { readonly checkSignature: string; readonly nonce: string; readonly token: string };
  readonly sourceOfFunds?: { readonly reference: { readonly serverCardId: string } };
  /** For the log line only; never answered. */
  readonly endpointId: string;
}

/** What the check needs; built once at start. */
export interface CheckServiceDeps {
  readonly endpoints: EndpointDirectory;
  readonly sessions: SessionCheckStore;
  /** Revocations since the initiate refuse the check. */
  readonly tokens: Pick<AccessTokenStore, "findToken">;
  /** A repeat sale's card reference is looked up here. */
  readonly cards: Pick<CardStore, "findCard">;
  /** How long after its initiate a session may first be checked. */
  readonly checkWindowMs: number;
  readonly now?: () => Date;
}

/** Checks sessions. */
export interface CheckService {
  /**
   * Runs the whole check for a JSON-shaped body carrying the path's invoice
   * id in `invoiceId`. Rejects with AppError only.
   */
  check(operation: Operation, body: unknown): Promise<CheckResult>;
}

function mismatch(detail: string): AppError {
  return new AppError("SESSION_MISMATCH", "The presented session does not match the session this server started.", {
    logDetail: detail,
  });
}

const unavailable = (e: unknown): never =>
  rethrowStoreFailure(e, "The session store is unavailable; nothing was checked. Retry later.");

/** Builds the service from its dependencies. */
export function createCheckService(deps: CheckServiceDeps): CheckService {
  const now = deps.now ?? (() => new Date());

  /**
   * The device's card a repeat sale names, or CARD_NOT_OWNED (before
   * anything is bound). A card deleted after the session was bound still
   * answers a repeat of the check: TopTechPay retries a check whose answer
   * it lost, and the payment that first answer allowed may already be under
   * way; the same check gets the same answer. A first check, or a card
   * deleted before the binding, is refused.
   */
  async function ownedCard(clientCardId: string, stored: StoredSession, repeat: boolean): Promise<DeviceCard> {
    const card = await deps.cards.findCard(clientCardId).catch(unavailable);
    const bound = repeat ? stored.checkedAt : undefined;
    const live =
      card !== undefined &&
      (card.deletedAt === undefined || (bound !== undefined && card.deletedAt.getTime() > bound.getTime()));
    // In constant time, like every stored value the check compares.
    const own = card !== undefined && sameText(card.serialNumber, stored.serialNumber);
    if (card && live && own) return card;
    const why = !card ? "unknown" : !own ? "another device's" : "deleted";
    throw new AppError("CARD_NOT_OWNED", "The card reference is not one of this device's cards.", {
      logDetail: `card ${clientCardId} is ${why}`,
    });
  }

  async function run(operation: Operation, body: unknown): Promise<CheckResult> {
    const request = parseCheckRequest(operation, body);
    const stored = await deps.sessions.findStoredSession(request.invoiceId).catch(unavailable);
    if (!stored || stored.operation !== operation) {
      throw new AppError("SESSION_NOT_FOUND", `No ${operation} session has invoice id ${request.invoiceId}.`, {
        logDetail: stored ? `the invoice is a ${stored.operation}` : "unknown invoice",
      });
    }
    // Every value is compared, not just up to the first difference, so the
    // time taken says nothing about which one differed.
    const differs = [
      sameText(request.serialNumber, stored.serialNumber) ? "" : "serialNumber",
      sameText(hashAccessToken(request.accessToken), stored.accessTokenHash) ? "" : "accessToken",
      sameText(request.nonce, stored.nonce) ? "" : "nonce",
      sameText(request.signature, stored.signature) ? "" : "signature",
    ].filter(Boolean);
    if (differs.length > 0) throw mismatch(`differs: ${differs.join(", ")}`);
    const tokenHash = hashAccessToken(request.token);
    const repeat = stored.gatewayTokenHash !== undefined && sameText(stored.gatewayTokenHash, tokenHash);
    if (stored.gatewayTokenHash !== undefined && !repeat) throw alreadyChecked();
    if (!repeat) {
      const at = now();
      if (at.getTime() - stored.createdAt.getTime() > deps.checkWindowMs) {
        throw new AppError("CHECK_WINDOW_CLOSED", "The session is too old to be checked.", {
          logDetail: `initiated ${stored.createdAt.toISOString()}, window ${deps.checkWindowMs} ms`,
        });
      }
      const token = await deps.tokens.findToken(stored.accessTokenHash).catch(unavailable);
      if (!token || token.revokedAt !== undefined) throw mismatch("access token revoked since the initiate");
    }
    const card = request.clientCardId === undefined ? undefined : await ownedCard(request.clientCardId, stored, repeat);
    const endpoint = deps.endpoints.byId(stored.endpointId);
    if (!endpoint) {
      throw new AppError("INTERNAL_ERROR", "The server failed to process the request.", {
        logDetail: `endpoint ${stored.endpointId} of the session is no longer configured`,
      });
    }
    if (!repeat) {
      const bound = await deps.sessions.bindGatewayToken(request.invoiceId, tokenHash, now()).catch((e: unknown) => {
        if (e instanceof GatewayTokenInUseError) {
          throw new AppError("GATEWAY_TOKEN_IN_USE", "The session token is already bound to another session.");
        }
        return unavailable(e);
      });
      // Another check bound a different token between our read and our write.
      if (bound === undefined || !sameText(bound, tokenHash)) throw alreadyChecked();
    }
    const checkSignature = signCheck(endpoint.controlKey, {
      serialNumber: stored.serialNumber,
      nonce: stored.nonce,
      endpointId: stored.endpointId,
      invoiceId: stored.invoiceId,
      serverCardId: card?.serverCardId,
    });
    return {
      invoiceId: stored.invoiceId,
      session: { checkSignature, nonce: stored.nonce, token: request.token },
      ...(card && { sourceOfFunds: { reference: { serverCardId: card.serverCardId } } }),
      endpointId: stored.endpointId,
    };
  }

  return {
    check: (operation, body) =>
      run(operation, body).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}

function alreadyChecked(): AppError {
  return new AppError("SESSION_ALREADY_CHECKED", "The session was already checked with another session token.");
}
