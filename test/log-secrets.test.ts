/**
 * Logs never show secrets: the real process runs at log level trace, gets
 * traffic over JSON, Connect and gRPC (issuing and revoking tokens, good and
 * bad calls, a malformed body carrying a token, a wrong API key, TopTechPay's
 * check, card mapping notification, repeat sale and final-status callbacks),
 * is stopped, and ALL of its output (stdout and stderr) is searched for every
 * access token, API key, control key, callback `control`, gateway session
 * token and serverCardId used. None may appear, in any spelling; the card
 * shows only as its clientCardId.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, expect, it } from "vitest";
import { InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type CapturedProcess, startCapturedProcess } from "./support/main-process.js";
import { issueToken, TEST_API_KEY, TEST_ENDPOINT, testConfig } from "./support/server-process.js";

let dir: string | undefined;
let proc: CapturedProcess | undefined;
afterEach(() => {
  if (proc && proc.child.exitCode === null) proc.child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const WRONG_API_KEY = "wrong-api-key-ffffffffffffffffffffffffffff";
const FORGED_TOKEN = "Zq8ForgedTokenZq8ForgedTokenZq8ForgedTokenZq8ForgedTokenZq8Forge";
const GATEWAY_TOKENS = ["GwSessionToken-0001-Zq8x", "GwSessionToken-0002-Zq8x"];
const SERVER_CARD_ID = "7391046628150093";

function body(serialNumber: string, accessToken: string): Record<string, unknown> {
  return {
    consumer: { device: { serialNumber, imei: "356938035643809" }, ipAddresses: ["192.0.2.7"] },
    location: { lat: 1, lng: 2 },
    session: { accessToken },
    transaction: { amountCentis: 250, currency: "EUR" },
  };
}

async function post(url: string, path: string, payload: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: payload,
  });
  await res.text();
  return res.status;
}

it("access tokens, API keys, control keys, gateway session tokens and serverCardIds never appear in the output", async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-logs-"));
  proc = await startCapturedProcess(
    dir,
    testConfig(
      { sqlite: join(dir, "proxy.db") },
      { log: { level: "trace" }, auth: { apiKeys: [{ key: TEST_API_KEY }] } },
    ),
  );
  const { url } = proc;
  const tokenA = await issueToken(url, "SN-LOG-A");
  const tokenB = await issueToken(url, "SN-LOG-B");

  expect(await post(url, "/sale/initiate-sale", JSON.stringify(body("SN-LOG-A", tokenA)))).toBe(200);
  // Token for another device, a forged token, a malformed body holding a token.
  expect(await post(url, "/sale/initiate-sale", JSON.stringify(body("SN-LOG-A", tokenB)))).toBe(401);
  expect(await post(url, "/sale/initiate-sale", JSON.stringify(body("SN-LOG-A", FORGED_TOKEN)))).toBe(401);
  expect(await post(url, "/sale/initiate-sale", `{"session":{"accessToken":"${tokenA}"}, oops`)).toBe(400);
  // AuthService with a wrong key, and a revocation carrying the token.
  const issue = "/toptechpay.auth.v1.AuthService/IssueAccessToken";
  expect(
    await post(url, issue, JSON.stringify({ serialNumber: "SN-LOG-C" }), { authorization: `Bearer ${WRONG_API_KEY}` }),
  ).toBe(401);
  const grpc = createClient(InitiateService, createGrpcTransport({ baseUrl: url }));
  await grpc.sale(body("SN-LOG-B", tokenB));
  await grpc.sale(body("SN-LOG-B", FORGED_TOKEN)).catch(() => undefined);
  expect(
    await post(url, "/toptechpay.auth.v1.AuthService/RevokeAccessToken", JSON.stringify({ accessToken: tokenB }), {
      authorization: `Bearer ${TEST_API_KEY}`,
    }),
  ).toBe(200);

  // Final-status callbacks: verified (GET and form POST), a wrong control, an unknown endpoint.
  const callback = (status: string, control?: string) => {
    const p: Record<string, string> = { status, type: "sale", orderid: "42", client_orderid: "log-order" };
    const digest = createHash("sha1").update(`${status}42log-order${TEST_ENDPOINT.controlKey}`).digest("hex");
    return new URLSearchParams({ ...p, control: control ?? digest }).toString();
  };
  const controls = ["approved", "declined"].map((st) => new URLSearchParams(callback(st)).get("control") as string);
  expect((await fetch(`${url}/callback/${TEST_ENDPOINT.id}?${callback("approved")}`)).status).toBe(200);
  const form = { "content-type": "application/x-www-form-urlencoded" };
  const formPost = (path: string, body: string) => fetch(`${url}${path}`, { method: "POST", headers: form, body });
  expect((await formPost(`/callback/${TEST_ENDPOINT.id}`, callback("declined"))).status).toBe(200);
  expect((await fetch(`${url}/callback/${TEST_ENDPOINT.id}?${callback("approved", "f".repeat(40))}`)).status).toBe(403);
  expect((await fetch(`${url}/callback/9999?${callback("approved")}`)).status).toBe(404);
  // TopTechPay: check a sale, notify its card (and a malformed notification holding it), pay with it again.
  const gateway = async (accessToken: string, gatewayToken: string, clientCardId?: string) => {
    const res = await fetch(`${url}/sale/initiate-sale`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body("SN-LOG-A", accessToken)),
    });
    const started = (await res.json()) as { invoiceId: string; session: { nonce: string; signature: string } };
    const check = {
      consumer: { device: { serialNumber: "SN-LOG-A" } },
      session: { accessToken, ...started.session, token: gatewayToken },
      sourceOfFunds: clientCardId === undefined ? undefined : { reference: { clientCardId } },
    };
    expect(await post(url, `/sale/${started.invoiceId}/check`, JSON.stringify(check))).toBe(200);
  };
  await gateway(tokenA, GATEWAY_TOKENS[0] as string);
  const notification = {
    consumer: { device: { serialNumber: "SN-LOG-A" } },
    session: { accessToken: tokenA, token: GATEWAY_TOKENS[0] },
    sourceCard: { bin: 411111, reference: { serverCardId: SERVER_CARD_ID, uniqueReferenceCardId: 5 } },
  };
  expect(await post(url, "/sale/notification", JSON.stringify(notification))).toBe(200);
  expect(await post(url, "/sale/notification", `${JSON.stringify(notification)} oops`)).toBe(400);
  // The card's one name outside the database: its log line (written as the answer ends).
  let clientCardId: string | undefined;
  for (let i = 0; i < 100 && clientCardId === undefined; i++) {
    const notified = proc.logLines().find((l) => l.operation === "sale-notification" && l.status === 200);
    clientCardId = notified?.clientCardId as string | undefined;
    if (clientCardId === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  expect(clientCardId).toMatch(/^[A-Za-z0-9_-]{32}$/);
  await gateway(tokenA, GATEWAY_TOKENS[1] as string, clientCardId);

  // The app's cards: listed, refused with a revoked token and a malformed body holding the token, deleted;
  // the back office lists them with deleted ones, and refuses a wrong key.
  const device = { consumer: { device: { serialNumber: "SN-LOG-A" } }, session: { accessToken: tokenA } };
  expect(await post(url, "/cards/list-cards", JSON.stringify(device))).toBe(200);
  const revoked = { ...device, session: { accessToken: tokenB } };
  expect(await post(url, "/cards/list-cards", JSON.stringify(revoked))).toBe(401);
  expect(await post(url, "/cards/delete-card", `${JSON.stringify(device)} oops`)).toBe(400);
  expect(await post(url, "/cards/delete-card", JSON.stringify({ ...device, card: { clientCardId } }))).toBe(200);
  const listCards = "/toptechpay.card.v1.CardService/ListCards";
  const office = JSON.stringify({ serialNumber: "SN-LOG-A", includeDeleted: true });
  expect(await post(url, listCards, office, { authorization: `Bearer ${TEST_API_KEY}` })).toBe(200);
  expect(await post(url, listCards, office, { authorization: `Bearer ${WRONG_API_KEY}` })).toBe(401);

  proc.child.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
  const { stdout, stderr } = proc.output();
  const all = `${stdout}\n${stderr}`;

  // The output is real: a start line with the effective configuration and a line per request.
  const lines = proc.logLines();
  const start = lines.find((l) => l.msg === "listening") as { config?: Record<string, unknown> } | undefined;
  expect(start?.config).toMatchObject({ limits: { maxInFlight: 1024 }, shutdown: { graceSeconds: 10 } });
  const requests = lines.filter((l) => l.msg === "request" || l.msg === "request failed");
  expect(requests.length).toBeGreaterThanOrEqual(10);
  expect(requests.find((l) => l.code === "ACCESS_TOKEN_INVALID")).toBeDefined();
  for (const l of requests) expect(Object.keys(l)).toEqual(expect.arrayContaining(["requestId", "protocol", "status"]));

  const controlKey = TEST_ENDPOINT.controlKey;
  const secrets = [
    tokenA,
    tokenB,
    FORGED_TOKEN,
    TEST_API_KEY,
    WRONG_API_KEY,
    controlKey,
    controlKey.replaceAll("-", ""),
    ...controls,
    "f".repeat(40),
    Buffer.from(controlKey.replaceAll("-", ""), "hex").toString("base64"),
    // A key held as bytes would show up in JSON as a list of numbers.
    Array.from(Buffer.from(controlKey.replaceAll("-", ""), "hex")).join(","),
    ...GATEWAY_TOKENS,
    SERVER_CARD_ID,
  ];
  for (const secret of secrets) {
    for (const spelling of [secret, secret.toLowerCase(), secret.toUpperCase()]) {
      expect(all.toLowerCase().includes(spelling.toLowerCase()), `found a secret: ${secret.slice(0, 6)}...`).toBe(
        false,
      );
    }
  }
  expect(all).toContain(clientCardId as string);
  // Not even a long prefix of a token.
  for (const token of [tokenA, tokenB]) expect(all.includes(token.slice(0, 16))).toBe(false);
});
