/**
 * The API-key gate of the internal services (AuthService, SessionService):
 * every call must carry one of the configured keys as
 * `authorization: Bearer <key>`; a refusal is API_KEY_INVALID with its
 * ErrorDetail, and so is any other failure of the guarded work, in the
 * caller's protocol.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { HandlerContext } from "@connectrpc/connect";
import { AppError } from "../core/error-catalogue.js";
import { runRpc } from "./run-rpc.js";

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
function createApiKeyCheck(apiKeys: readonly string[]): (authorization: string | null) => void {
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

/**
 * Runs a handler's work only for a caller with a valid API key, and turns
 * whatever it throws into a ConnectError with ErrorDetail (noted in the
 * request's record).
 */
export function apiKeyGuard(
  apiKeys: readonly string[],
): <T>(ctx: HandlerContext, work: () => Promise<T>) => Promise<T> {
  const checkApiKey = createApiKeyCheck(apiKeys);
  return (ctx, work) =>
    runRpc(ctx, () => {
      checkApiKey(ctx.requestHeader.get("authorization"));
      return work();
    });
}
