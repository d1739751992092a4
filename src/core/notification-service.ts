/**
 * TopTechPay's card mapping notifications (sale and verification; shared
 * spec gateway.md), whatever protocol carried them: validate, find the
 * session by TopTechPay's session token (bound at its check), compare what
 * was presented with what was stored, keep the card reference for the
 * device under a clientCardId this server draws, and answer signed.
 */
import { randomBytes } from "node:crypto";
import type { CardStore } from "./card-store.js";
import type { EndpointDirectory } from "./endpoints.js";
import { AppError, toAppError } from "./error-catalogue.js";
import type { Operation } from "./initiate-request.js";
import { hashAccessToken } from "./initiator.js";
import { parseNotificationRequest } from "./notification-request.js";
import { sameText } from "./same-text.js";
import type { SessionCheckStore } from "./session-state.js";
import { signNotification } from "./signature.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** The documented success answer of a notification (it never holds the clientCardId). */
export interface NotificationAnswer {
  readonly invoiceId: string;
  readonly session: { readonly checkSignature: string; readonly nonce: string; readonly token: string };
}

/** An answer, and what the log line says of it. */
export interface NotificationResult {
  readonly answer: NotificationAnswer;
  readonly endpointId: string;
  /** The device's card named by the notification; undefined when it named none. */
  readonly clientCardId: string | undefined;
}

/**
 * What a notification learned before it failed, for the fail body and the
 * log line: the invoice and endpoint of the session its token named, once
 * that session is known to be the one the path addresses.
 */
export interface NotificationTrace {
  invoiceId?: string;
  endpointId?: string;
}

/** What the notifications need; built once at start. */
export interface NotificationServiceDeps {
  readonly endpoints: EndpointDirectory;
  readonly sessions: Pick<SessionCheckStore, "findSessionByGatewayToken">;
  readonly cards: Pick<CardStore, "saveCard">;
  readonly now?: () => Date;
  /** Draws a clientCardId; 24 random bytes in base64url (32 characters) unless a test says otherwise. */
  readonly drawCardId?: () => string;
}

/** Handles card mapping notifications. */
export interface NotificationService {
  /**
   * Runs the whole notification for a JSON-shaped body (with the path's
   * invoice id in `invoiceId` for the path form). Fills `trace` as it learns;
   * rejects with AppError only.
   */
  notify(operation: Operation, body: unknown, trace?: NotificationTrace): Promise<NotificationResult>;
}

const unavailable = (e: unknown): never =>
  rethrowStoreFailure(e, "The store is unavailable; nothing was stored. Retry later.");

function unknownToken(operation: Operation, detail: string): AppError {
  return new AppError("GATEWAY_TOKEN_UNKNOWN", `No checked ${operation} session has this session token.`, {
    logDetail: detail,
  });
}

/** Builds the service from its dependencies. */
export function createNotificationService(deps: NotificationServiceDeps): NotificationService {
  const now = deps.now ?? (() => new Date());
  const drawCardId = deps.drawCardId ?? (() => randomBytes(24).toString("base64url"));

  async function run(operation: Operation, body: unknown, trace: NotificationTrace): Promise<NotificationResult> {
    const request = parseNotificationRequest(operation, body);
    // Only a checked session has a token bound, so a never-checked one is not found either.
    const stored = await deps.sessions.findSessionByGatewayToken(hashAccessToken(request.token)).catch(unavailable);
    if (!stored) throw unknownToken(operation, "no session is bound to the token");
    // Refused as unknown, so an answer never tells which invoice a token belongs to.
    if (stored.operation !== operation) {
      throw unknownToken(operation, `the token is bound to ${stored.operation} session ${stored.invoiceId}`);
    }
    if (request.invoiceId !== undefined && request.invoiceId !== stored.invoiceId) {
      throw unknownToken(operation, `the token is bound to session ${stored.invoiceId}, not the path's`);
    }
    trace.invoiceId = stored.invoiceId;
    trace.endpointId = stored.endpointId;
    // Both compared, not up to the first difference: the time says nothing of which one differed.
    const differs = [
      sameText(request.serialNumber, stored.serialNumber) ? "" : "serialNumber",
      sameText(hashAccessToken(request.accessToken), stored.accessTokenHash) ? "" : "accessToken",
    ].filter(Boolean);
    if (differs.length > 0) {
      throw new AppError("SESSION_MISMATCH", "The presented session does not match the session this server started.", {
        logDetail: `differs: ${differs.join(", ")}`,
      });
    }
    const endpoint = deps.endpoints.byId(stored.endpointId);
    if (!endpoint) {
      throw new AppError("INTERNAL_ERROR", "The server failed to process the request.", {
        logDetail: `endpoint ${stored.endpointId} of the session is no longer configured`,
      });
    }
    let clientCardId: string | undefined;
    if (request.reference) {
      // A redelivery (same serverCardId, same device) gets the card stored first.
      const saved = await deps.cards
        .saveCard({
          clientCardId: drawCardId(),
          serialNumber: stored.serialNumber,
          serverCardId: request.reference.serverCardId,
          uniqueReferenceCardId: request.reference.uniqueReferenceCardId,
          bin: request.bin,
          operation,
          invoiceId: stored.invoiceId,
          createdAt: now(),
          deletedAt: undefined,
        })
        .catch(unavailable);
      clientCardId = saved.card.clientCardId;
    }
    const checkSignature = signNotification(endpoint.controlKey, {
      nonce: stored.nonce,
      endpointId: stored.endpointId,
      invoiceId: stored.invoiceId,
    });
    return {
      answer: { invoiceId: stored.invoiceId, session: { checkSignature, nonce: stored.nonce, token: request.token } },
      endpointId: stored.endpointId,
      clientCardId,
    };
  }

  return {
    notify: (operation, body, trace = {}) =>
      run(operation, body, trace).catch((e: unknown) => {
        throw toAppError(e);
      }),
  };
}
