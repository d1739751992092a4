/**
 * AuthService over Connect, gRPC and gRPC-Web: issue and revoke access tokens
 * for internal services. Every call must carry one of the configured API keys
 * as `authorization: Bearer <key>`; the token logic itself is in the core.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  AuthService,
  IssueAccessTokenResponseSchema,
  RevokeAccessTokenResponseSchema,
  RevokeDeviceTokensResponseSchema,
} from "../../gen/toptechpay/auth/v1/auth_pb.js";
import type { AccessTokens } from "../core/access-tokens.js";
import { AppError } from "../core/error-catalogue.js";
import { anyToConnectError } from "./connect-errors.js";
import { kRequestLog } from "./request-log.js";

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/**
 * Builds the API key check. Keys are compared as SHA-256 digests (always 32
 * bytes, so timingSafeEqual applies whatever the presented length) and every
 * configured key is compared on every call, so the time taken reveals
 * neither how much of a key matched nor which key it was.
 */
export function createApiKeyCheck(apiKeys: readonly string[]): (authorization: string | null) => void {
  const digests = apiKeys.map(digest);
  const refuse = (reason: string) =>
    new AppError("API_KEY_INVALID", "A valid API key is required as `authorization: Bearer <key>`.", {
      logDetail: reason,
    });
  return (authorization) => {
    if (authorization === null || authorization === "") throw refuse("no authorization header");
    const match = BEARER.exec(authorization);
    if (!match) throw refuse("authorization header is not `Bearer <key>`");
    const presented = digest(match[1] as string);
    let matched = false;
    for (const d of digests) matched = timingSafeEqual(d, presented) || matched;
    if (digests.length === 0) throw refuse("no API keys are configured (auth.apiKeys)");
    if (!matched) throw refuse("API key does not match any configured key");
  };
}

/** Registers AuthService on a Connect router. */
export function authRoutes(
  tokens: AccessTokens,
  options: { readonly apiKeys: readonly string[] },
): (router: ConnectRouter) => void {
  const checkApiKey = createApiKeyCheck(options.apiKeys);

  async function guarded<T>(ctx: HandlerContext, work: () => Promise<T>): Promise<T> {
    try {
      checkApiKey(ctx.requestHeader.get("authorization"));
      return await work();
    } catch (e) {
      const { connectError, appError } = anyToConnectError(e);
      const log = ctx.values.get(kRequestLog);
      if (log) log.error = appError;
      throw connectError;
    }
  }

  return (router) => {
    router.service(AuthService, {
      issueAccessToken: (req, ctx) =>
        guarded(ctx, async () => {
          const lifetimeSeconds = req.lifetime === undefined ? undefined : durationMs(req.lifetime) / 1000;
          const issued = await tokens.issue(req.serialNumber, lifetimeSeconds);
          return create(IssueAccessTokenResponseSchema, {
            accessToken: issued.accessToken,
            expiresAt: timestampFromDate(issued.expiresAt),
          });
        }),
      revokeAccessToken: (req, ctx) =>
        guarded(ctx, async () =>
          create(RevokeAccessTokenResponseSchema, { revoked: await tokens.revoke(req.accessToken) }),
        ),
      revokeDeviceTokens: (req, ctx) =>
        guarded(ctx, async () =>
          create(RevokeDeviceTokensResponseSchema, { revokedCount: await tokens.revokeDevice(req.serialNumber) }),
        ),
    });
  };
}
