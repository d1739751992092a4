/**
 * `POST /auth/access-token`, development only: issues a token to anyone who
 * names a device, as the gateway vendor's sample proxy does, so the README's
 * examples and the mobile app can be tried without a merchant backend. It
 * proves nothing about the caller, which is why configuration leaves it off
 * unless `auth.openIssuance: true`; production issues tokens over AuthService.
 */
import { type AccessTokens, serialNumberFromIssueBody } from "../core/access-tokens.js";
import { sendJson, sendJsonPathError } from "./answer.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { readJsonPost } from "./read-body.js";
import type { Route } from "./route.js";

/** The path of open issuance. */
export const OPEN_ISSUANCE_PATH = "/auth/access-token";

/**
 * A route for open issuance. Body `{"consumer":{"device":{"serialNumber":"..."}}}`;
 * answer `{"session":{"accessToken":"...","expiresAt":"...Z"}}`; failures get
 * the documented error body, exactly as on the initiate paths.
 */
export function openIssuanceRoute(tokens: AccessTokens, options: { readonly maxBodyBytes: number }): Route {
  async function serve(req: NodeServerRequest, res: NodeServerResponse): Promise<void> {
    const body = await readJsonPost(req, options.maxBodyBytes);
    const issued = await tokens.issue(serialNumberFromIssueBody(body));
    sendJson(res, 200, {
      session: { accessToken: issued.accessToken, expiresAt: issued.expiresAt.toISOString() },
    });
  }

  return (req, res, path) => {
    if (path !== OPEN_ISSUANCE_PATH) return false;
    serve(req, res).catch((e: unknown) => sendJsonPathError(req, res, e));
    return true;
  };
}
