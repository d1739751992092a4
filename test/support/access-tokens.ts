/**
 * Access tokens for tests that start sessions: since tokens became a real
 * credential, a sale or verification needs a token this server issued for
 * the request's serial number.
 *
 * ```ts
 * const token = await issueToken(s, "SN-1");        // a TestServer or AppServer: through the core
 * const token = await issueToken(s.url, "SN-1");    // a URL: POST /auth/access-token (needs auth.openIssuance)
 * ```
 */
import type { AppServer } from "../../src/server.js";

/** Where to get the token: a server URL (open issuance), an AppServer, or anything holding one (TestServer). */
export type TokenSource = string | AppServer | { readonly server: AppServer };

/** Issues an access token for `serialNumber` and returns it (64 URL-safe characters). */
export async function issueToken(source: TokenSource, serialNumber: string, lifetimeSeconds?: number): Promise<string> {
  if (typeof source !== "string") {
    const server = "server" in source ? source.server : source;
    return (await server.tokens.issue(serialNumber, lifetimeSeconds)).accessToken;
  }
  if (lifetimeSeconds !== undefined) throw new Error("issueToken: open issuance has no lifetime; pass the server");
  const res = await fetch(`${source}/auth/access-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ consumer: { device: { serialNumber } } }),
  });
  const text = await res.text();
  if (res.status !== 200) {
    throw new Error(
      `issueToken: POST /auth/access-token answered ${res.status} ${text}` +
        (res.status === 404 ? " (start the server with auth: { openIssuance: true }, or pass the server)" : ""),
    );
  }
  return (JSON.parse(text) as { session: { accessToken: string } }).session.accessToken;
}
