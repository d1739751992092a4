/**
 * AuthService over Connect, gRPC and gRPC-Web: issue and revoke access tokens
 * for internal services. Every call must carry one of the configured API keys
 * as `authorization: Bearer <key>`; the token logic itself is in the core.
 */
import { create } from "@bufbuild/protobuf";
import { durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  AuthService,
  IssueAccessTokenResponseSchema,
  RevokeAccessTokenResponseSchema,
  RevokeDeviceTokensResponseSchema,
} from "../../gen/toptechpay/auth/v1/auth_pb.js";
import type { AccessTokens } from "../core/access-tokens.js";
import { apiKeyGuard } from "./api-key-guard.js";

/** Registers AuthService on a Connect router, behind the API keys. */
export function registerAuthService(router: ConnectRouter, tokens: AccessTokens, apiKeys: readonly string[]): void {
  const guarded = apiKeyGuard(apiKeys);
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
}
