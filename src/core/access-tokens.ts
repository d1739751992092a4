/**
 * Access tokens as a real credential: issued by this server for one device,
 * valid for a limited time, revocable, and checked on every initiate. The
 * store keeps only each token's SHA-256 hash, so a copy of the database gives
 * no usable token; the full token is shown once, to the issuer, and never logged.
 */
import { randomBytes } from "node:crypto";
import type { AccessTokenRecord, AccessTokenStore } from "./access-token-store.js";
import { AppError } from "./error-catalogue.js";
import { checkSerialNumber } from "./initiate-request.js";
import { hashAccessToken } from "./initiator.js";
import { checkLength, isObject, requiredObject } from "./json-fields.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** Shortest lifetime a caller may ask for. */
export const MIN_TOKEN_LIFETIME_SECONDS = 1;
/** Longest lifetime a caller may ask for (and the longest configurable default): 30 days. */
export const MAX_TOKEN_LIFETIME_SECONDS = 30 * 24 * 3600;
/** Default lifetime when configuration says nothing (auth.tokenLifetimeSeconds): 60 minutes. */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

// The longest token an initiate request can carry (session.accessToken):
// longer text cannot be a token this server issued.
const MAX_TOKEN_CHARS = 128;

/** A newly issued token; the only time the token itself exists outside the caller. */
export interface IssuedToken {
  /** 64 URL-safe characters: base64url of 48 bytes (384 bits) from the CSPRNG. */
  readonly accessToken: string;
  readonly expiresAt: Date;
}

/** What a check needs from an initiate request. */
export interface TokenPresentation {
  readonly accessToken: string;
  readonly serialNumber: string;
  /** The token's SHA-256 when the caller has it already (the initiate flow does). */
  readonly accessTokenHash?: string;
}

/** Issue, check and revoke. Every method rejects with AppError only. */
export interface AccessTokens {
  /**
   * Issues a token for a device. `serialNumber` is checked like the initiate
   * field (the value may come straight from a caller); `lifetimeSeconds`
   * defaults to the configured lifetime.
   */
  issue(serialNumber: unknown, lifetimeSeconds?: number): Promise<IssuedToken>;
  /**
   * Resolves when the token exists, has not expired, is not revoked, and was
   * issued for this serial number; otherwise rejects with ACCESS_TOKEN_INVALID,
   * whose public message is the same for every reason and whose logDetail
   * names the reason.
   */
  check(presented: TokenPresentation): Promise<void>;
  /** Revokes one token; resolves true when it existed and was not revoked yet. */
  revoke(accessToken: unknown): Promise<boolean>;
  /** Revokes every unrevoked token of a device; resolves with how many. */
  revokeDevice(serialNumber: unknown): Promise<number>;
}

/** What the token service needs. */
export interface AccessTokensDeps {
  readonly store: AccessTokenStore;
  /** Lifetime of a token issued without an explicit one. */
  readonly defaultLifetimeSeconds?: number;
  readonly now?: () => Date;
}

/** A new token: 48 CSPRNG bytes as base64url, exactly 64 URL-safe characters. */
function drawAccessToken(): string {
  return randomBytes(48).toString("base64url");
}

function checkTokenText(value: unknown, path: string): string {
  if (value === undefined || value === null || value === "") {
    throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  }
  if (typeof value !== "string") throw new AppError("FIELD_TYPE", `${path} must be a string.`);
  checkLength(value, 1, MAX_TOKEN_CHARS, path);
  return value;
}

function checkLifetime(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < MIN_TOKEN_LIFETIME_SECONDS || seconds > MAX_TOKEN_LIFETIME_SECONDS) {
    throw new AppError(
      "FIELD_RANGE",
      `lifetime must be between ${MIN_TOKEN_LIFETIME_SECONDS} second and ${MAX_TOKEN_LIFETIME_SECONDS} seconds (30 days).`,
    );
  }
  return seconds;
}

/**
 * The body of the development-only open issuance path,
 * `{"consumer":{"device":{"serialNumber":"..."}}}`: returns the serial number
 * or throws AppError naming the first missing or wrong field.
 */
export function serialNumberFromIssueBody(body: unknown): string {
  if (!isObject(body)) throw new AppError("BODY_NOT_OBJECT", "The request body must be a JSON object.");
  const device = requiredObject(requiredObject(body, "consumer", "consumer"), "device", "consumer.device");
  return checkSerialNumber(device.serialNumber, "consumer.device.serialNumber");
}

const storeFailure = (e: unknown): never => rethrowStoreFailure(e, "The token store is unavailable; retry later.");

/** Builds the token service. */
export function createAccessTokens(deps: AccessTokensDeps): AccessTokens {
  const now = deps.now ?? (() => new Date());
  const defaultLifetime = checkLifetime(deps.defaultLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS);

  function invalid(reason: string): AppError {
    return new AppError("ACCESS_TOKEN_INVALID", "The access token is not valid for this device; get a new one.", {
      logDetail: reason,
    });
  }

  return {
    async issue(serialNumber, lifetimeSeconds) {
      const serial = checkSerialNumber(serialNumber, "serialNumber");
      const lifetime = lifetimeSeconds === undefined ? defaultLifetime : checkLifetime(lifetimeSeconds);
      const accessToken = drawAccessToken();
      const issuedAt = now();
      const record: AccessTokenRecord = {
        tokenHash: hashAccessToken(accessToken),
        serialNumber: serial,
        issuedAt,
        expiresAt: new Date(issuedAt.getTime() + Math.round(lifetime * 1000)),
        revokedAt: undefined,
      };
      await deps.store.insertToken(record).catch(storeFailure);
      return { accessToken, expiresAt: record.expiresAt };
    },

    async check(presented) {
      const hash = presented.accessTokenHash ?? hashAccessToken(presented.accessToken);
      const record = await deps.store.findToken(hash).catch(storeFailure);
      // The reasons differ only in the log: a caller probing tokens learns
      // nothing about which ones exist, for which device, or when they ended.
      if (!record) throw invalid("access token unknown");
      if (record.revokedAt) throw invalid(`access token revoked at ${record.revokedAt.toISOString()}`);
      const at = now();
      if (record.expiresAt.getTime() <= at.getTime()) {
        throw invalid(`access token expired at ${record.expiresAt.toISOString()}`);
      }
      if (record.serialNumber !== presented.serialNumber) {
        throw invalid("access token issued for another device serial number");
      }
    },

    async revoke(accessToken) {
      const token = checkTokenText(accessToken, "accessToken");
      return deps.store.revokeToken(hashAccessToken(token), now()).catch(storeFailure);
    },

    async revokeDevice(serialNumber) {
      const serial = checkSerialNumber(serialNumber, "serialNumber");
      return deps.store.revokeDeviceTokens(serial, now()).catch(storeFailure);
    },
  };
}
