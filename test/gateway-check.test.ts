/**
 * TopTechPay's check sale / check verification on the JSON paths
 * (`POST /sale/{invoiceId}/check`, `POST /verification/{invoiceId}/check`,
 * shared spec gateway.md), played end to end against a real server: the app
 * initiates, then the test calls back as the gateway would and verifies the
 * answer's checkSignature with its own HMAC (node:crypto, and openssl once).
 * Every refusal is checked for its status, code and documented fail body,
 * and for binding nothing: the stored session stays `initiated` with no
 * gateway token, and a correct check afterwards still succeeds.
 */
import { execFileSync } from "node:child_process";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import {
  type CheckBody,
  checkBody,
  checkMessage,
  controlKeyBytes,
  expectCheckAnswer,
  expectCheckRefusal,
  expectedCheckSignature,
  expectNothingBound,
  gatewayToken,
  type Initiated,
  initiate,
  postCheck,
  sha256,
  unknownInvoice,
} from "./support/gateway-fixtures.js";
import { serverForFile, startTestServer, TEST_ENDPOINT_ID, type TestServer } from "./support/test-server.js";

const s = await serverForFile();

/** Sets a session's initiate time back by `seconds` in the real SQLite file. */
function ageSession(invoiceId: string, seconds: number): void {
  const db = new Database(s.sqlitePath);
  try {
    db.pragma("busy_timeout = 5000");
    const changed = db
      .prepare("UPDATE sessions SET created_at_ms = created_at_ms - ? WHERE invoice_id = ?")
      .run(seconds * 1000, invoiceId).changes;
    expect(changed).toBe(1);
  } finally {
    db.close();
  }
}

/** A correct check of `init` succeeds (after a refusal, to show the refusal bound nothing). */
async function expectCheckSucceeds(init: Initiated, token = gatewayToken()): Promise<void> {
  expectCheckAnswer(await postCheck(s.url, init.operation, init.invoiceId, checkBody(init, token)), init, token);
  const stored = await s.server.store.findStoredSession(init.invoiceId);
  expect({ state: stored?.state, hash: stored?.gatewayTokenHash }).toEqual({ state: "checked", hash: sha256(token) });
  expect(stored?.checkedAt).toBeInstanceOf(Date);
}

describe("a successful check", () => {
  it("check sale: the documented answer, its checkSignature verified with node:crypto", async () => {
    const init = await initiate(s, "sale");
    expect(init.endpointId).toBe(TEST_ENDPOINT_ID);
    await expectNothingBound(s, init.invoiceId);
    const token = gatewayToken();
    const answer = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, token));
    expectCheckAnswer(answer, init, token);
    // The field list of gateway.md's success answer, and no sourceOfFunds without a card reference.
    expect(Object.keys(answer.json).sort()).toEqual(["invoiceId", "session"]);
    expect(Object.keys(answer.json.session).sort()).toEqual(["checkSignature", "nonce", "token"]);
    const stored = await s.server.store.findStoredSession(init.invoiceId);
    expect(stored?.state).toBe("checked");
    expect(stored?.gatewayTokenHash).toBe(sha256(token));
    expect(stored?.checkedAt?.getTime()).toBeGreaterThanOrEqual(stored?.createdAt.getTime() ?? Infinity);
  });

  it("check verification: the documented answer, its checkSignature verified with the openssl command line", async () => {
    const init = await initiate(s, "verification");
    const token = gatewayToken();
    const answer = await postCheck(s.url, "verification", init.invoiceId, checkBody(init, token));
    expectCheckAnswer(answer, init, token);
    const out = execFileSync(
      "openssl",
      ["dgst", "-sha1", "-mac", "HMAC", "-macopt", `hexkey:${controlKeyBytes().toString("hex")}`],
      { input: checkMessage(init), encoding: "utf8" },
    );
    // "HMAC-SHA1(stdin)= <hex>" (the prefix varies between openssl versions).
    const mac = /=\s*([0-9a-f]{40})\s*$/.exec(out)?.[1];
    expect(mac, out).toBeDefined();
    expect(answer.json.session.checkSignature).toBe(mac?.toUpperCase());
  });

  it("the same check again gets the same answer (TopTechPay retries), even after the window", async () => {
    for (const operation of ["sale", "verification"] as const) {
      const init = await initiate(s, operation);
      const token = gatewayToken();
      const first = await postCheck(s.url, operation, init.invoiceId, checkBody(init, token));
      expectCheckAnswer(first, init, token);
      const checkedAt = (await s.server.store.findStoredSession(init.invoiceId))?.checkedAt;
      const again = await postCheck(s.url, operation, init.invoiceId, checkBody(init, token));
      expect(again.status).toBe(200);
      expect(again.text).toBe(first.text);
      // A retry binds nothing new: the first check's time stays.
      expect((await s.server.store.findStoredSession(init.invoiceId))?.checkedAt).toEqual(checkedAt);
      // The window limits the first check only; a retry of a bound session is still answered.
      ageSession(init.invoiceId, 3600);
      const late = await postCheck(s.url, operation, init.invoiceId, checkBody(init, token));
      expect(late.text).toBe(first.text);
    }
  });

  it("the invoice is the path's: an invoiceId in the body is not the gateway's to set", async () => {
    const a = await initiate(s, "sale");
    const b = await initiate(s, "sale");
    const token = gatewayToken();
    const body = { ...checkBody(a, token), invoiceId: b.invoiceId };
    expectCheckAnswer(await postCheck(s.url, "sale", a.invoiceId, body), a, token);
    await expectNothingBound(s, b.invoiceId);
  });
});

describe("a refused check binds nothing", () => {
  const mismatches: [string, (body: CheckBody, init: Initiated) => void][] = [
    ["wrong serial number", (b) => (b.consumer.device.serialNumber = "SN-OTHER")],
    ["wrong access token", (b) => (b.session.accessToken = "A".repeat(64))],
    [
      "wrong nonce",
      (b, init) => (b.session.nonce = `${init.nonce.slice(0, -1)}${init.nonce.endsWith("A") ? "B" : "A"}`),
    ],
    ["wrong signature", (b) => (b.session.signature = "0".repeat(40))],
  ];
  for (const [name, change] of mismatches) {
    for (const operation of ["sale", "verification"] as const) {
      it(`${name} (${operation}): 403 SESSION_MISMATCH`, async () => {
        const init = await initiate(s, operation);
        const body = checkBody(init, gatewayToken());
        change(body, init);
        const answer = await postCheck(s.url, operation, init.invoiceId, body);
        expectCheckRefusal(answer, 403, "SESSION_MISMATCH", init.invoiceId);
        // One public code and message: which value differed is not told.
        expect(answer.json.error.message).not.toMatch(/serial|nonce|signature|access/i);
        await expectNothingBound(s, init.invoiceId);
        await expectCheckSucceeds(init);
      });
    }
  }

  it("a token issued to the same device, but not the one initiated with: 403 SESSION_MISMATCH", async () => {
    const init = await initiate(s, "sale");
    const body = checkBody(init, gatewayToken());
    body.session.accessToken = await s.issueToken(init.serialNumber);
    expectCheckRefusal(await postCheck(s.url, "sale", init.invoiceId, body), 403, "SESSION_MISMATCH", init.invoiceId);
    await expectNothingBound(s, init.invoiceId);
    await expectCheckSucceeds(init);
  });

  it("the other operation: a sale checked as a verification, and the reverse, 404 SESSION_NOT_FOUND", async () => {
    const sale = await initiate(s, "sale");
    const verification = await initiate(s, "verification");
    for (const [init, path] of [
      [sale, "verification"],
      [verification, "sale"],
    ] as const) {
      const answer = await postCheck(s.url, path, init.invoiceId, checkBody(init, gatewayToken()));
      expectCheckRefusal(answer, 404, "SESSION_NOT_FOUND", init.invoiceId);
      await expectNothingBound(s, init.invoiceId);
      await expectCheckSucceeds(init);
    }
  });

  it("an unknown invoice: 404 SESSION_NOT_FOUND, on both paths, also for a path that is not a UUID", async () => {
    const init = await initiate(s, "sale");
    for (const operation of ["sale", "verification"] as const) {
      for (const invoiceId of [unknownInvoice(), "no such invoice", "%E2%82%AC"]) {
        const answer = await postCheck(s.url, operation, invoiceId, checkBody(init, gatewayToken()));
        expectCheckRefusal(answer, 404, "SESSION_NOT_FOUND", invoiceId);
      }
    }
    await expectNothingBound(s, init.invoiceId);
  });

  it("outside the window: 403 CHECK_WINDOW_CLOSED; just inside it, checked", async () => {
    const late = await initiate(s, "sale");
    // gateway.checkWindowSeconds defaults to 900.
    ageSession(late.invoiceId, 901);
    const answer = await postCheck(s.url, "sale", late.invoiceId, checkBody(late, gatewayToken()));
    expectCheckRefusal(answer, 403, "CHECK_WINDOW_CLOSED", late.invoiceId);
    await expectNothingBound(s, late.invoiceId);
    // Refused for good: the session stays unbound however often it is retried.
    const again = await postCheck(s.url, "sale", late.invoiceId, checkBody(late, gatewayToken()));
    expectCheckRefusal(again, 403, "CHECK_WINDOW_CLOSED", late.invoiceId);
    await expectNothingBound(s, late.invoiceId);

    const inTime = await initiate(s, "verification");
    ageSession(inTime.invoiceId, 880);
    await expectCheckSucceeds(inTime);
  });

  it("the access token was revoked after the initiate: 403 SESSION_MISMATCH", async () => {
    const init = await initiate(s, "sale");
    expect(await s.server.tokens.revoke(init.accessToken)).toBe(true);
    const answer = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
    expectCheckRefusal(answer, 403, "SESSION_MISMATCH", init.invoiceId);
    await expectNothingBound(s, init.invoiceId);
    // Revoking every token of the device refuses the verification too.
    const v = await initiate(s, "verification");
    await s.server.tokens.revokeDevice(v.serialNumber);
    const refused = await postCheck(s.url, "verification", v.invoiceId, checkBody(v, gatewayToken()));
    expectCheckRefusal(refused, 403, "SESSION_MISMATCH", v.invoiceId);
    await expectNothingBound(s, v.invoiceId);
  });

  it("a second token after a successful check: 409 SESSION_ALREADY_CHECKED, the first binding kept", async () => {
    const init = await initiate(s, "sale");
    const first = gatewayToken();
    const answer = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, first));
    expectCheckAnswer(answer, init, first);
    const before = await s.server.store.findStoredSession(init.invoiceId);
    const second = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()));
    expectCheckRefusal(second, 409, "SESSION_ALREADY_CHECKED", init.invoiceId);
    expect(await s.server.store.findStoredSession(init.invoiceId)).toEqual(before);
    expect(before?.gatewayTokenHash).toBe(sha256(first));
    // The first token still gets its answer.
    expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, first))).text).toBe(answer.text);
  });

  it("a token already bound to another session: 409 GATEWAY_TOKEN_IN_USE", async () => {
    const a = await initiate(s, "sale");
    const b = await initiate(s, "verification");
    const token = gatewayToken();
    expectCheckAnswer(await postCheck(s.url, "sale", a.invoiceId, checkBody(a, token)), a, token);
    const answer = await postCheck(s.url, "verification", b.invoiceId, checkBody(b, token));
    expectCheckRefusal(answer, 409, "GATEWAY_TOKEN_IN_USE", b.invoiceId);
    await expectNothingBound(s, b.invoiceId);
    await expectCheckSucceeds(b);
  });

  it("an unknown clientCardId on a sale: 403 CARD_NOT_OWNED", async () => {
    const init = await initiate(s, "sale");
    const body = { ...checkBody(init, gatewayToken()), sourceOfFunds: { reference: { clientCardId: "card-1" } } };
    const answer = await postCheck(s.url, "sale", init.invoiceId, body);
    expectCheckRefusal(answer, 403, "CARD_NOT_OWNED", init.invoiceId);
    await expectNothingBound(s, init.invoiceId);
    await expectCheckSucceeds(init);
  });

  describe("validation, each failure body with the path's invoiceId", () => {
    const cases: [string, number, string, (b: CheckBody) => void][] = [
      ["missing session.token", 400, "FIELD_REQUIRED", (b) => delete b.session.token],
      ["null session.nonce", 400, "FIELD_REQUIRED", (b) => (b.session.nonce = null)],
      ["missing consumer", 400, "FIELD_REQUIRED", (b) => delete b.consumer],
      ["session.token of 15 characters", 400, "FIELD_LENGTH", (b) => (b.session.token = "t".repeat(15))],
      ["session.token of 37 characters", 400, "FIELD_LENGTH", (b) => (b.session.token = "t".repeat(37))],
      ["session.accessToken of 31 characters", 400, "FIELD_LENGTH", (b) => (b.session.accessToken = "a".repeat(31))],
      ["session.signature of 129 characters", 400, "FIELD_LENGTH", (b) => (b.session.signature = "F".repeat(129))],
      ["a lone surrogate in session.token", 400, "FIELD_FORMAT", (b) => (b.session.token = `\ud800${"t".repeat(20)}`)],
      ["a control character in session.token", 400, "FIELD_FORMAT", (b) => (b.session.token = `t\n${"t".repeat(20)}`)],
      ["session.token a number", 400, "FIELD_TYPE", (b) => (b.session.token = 1234567890123456)],
    ];
    for (const [name, status, code, change] of cases) {
      it(`${name}: ${status} ${code}`, async () => {
        const init = await initiate(s, "sale");
        const body = checkBody(init, gatewayToken());
        change(body);
        expectCheckRefusal(await postCheck(s.url, "sale", init.invoiceId, body), status, code, init.invoiceId);
        await expectNothingBound(s, init.invoiceId);
        await expectCheckSucceeds(init);
      });
    }

    it("not JSON, a JSON array, wrong content type, no body", async () => {
      const init = await initiate(s, "verification");
      const body = JSON.stringify(checkBody(init, gatewayToken()));
      const id = init.invoiceId;
      const notJson = await postCheck(s.url, "verification", id, undefined, { raw: body.slice(0, -1) });
      expectCheckRefusal(notJson, 400, "BODY_NOT_JSON", id);
      const array = await postCheck(s.url, "verification", id, undefined, { raw: `[${body}]` });
      expectCheckRefusal(array, 400, "BODY_NOT_OBJECT", id);
      const text = await postCheck(s.url, "verification", id, undefined, {
        raw: body,
        headers: { "content-type": "text/plain" },
      });
      expectCheckRefusal(text, 415, "CONTENT_TYPE_UNSUPPORTED", id);
      const empty = await postCheck(s.url, "verification", id, undefined, { raw: "" });
      expectCheckRefusal(empty, 400, "BODY_EMPTY", id);
      await expectNothingBound(s, id);
      await expectCheckSucceeds(init);
    });
  });
});

describe("log line and metrics", () => {
  it("a check's log line names the operation, outcome and code, and holds no secret", async () => {
    const init = await initiate(s, "sale");
    const token = gatewayToken();
    const ok = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, token));
    expect(ok.status).toBe(200);
    const wrong = checkBody(init, gatewayToken());
    wrong.session.signature = "1".repeat(40);
    const refused = await postCheck(s.url, "sale", init.invoiceId, wrong);
    expect(refused.status).toBe(403);
    const v = await initiate(s, "verification");
    const vToken = gatewayToken();
    expect((await postCheck(s.url, "verification", v.invoiceId, checkBody(v, vToken))).status).toBe(200);

    const okLine = await s.logLineFor(ok.requestId);
    expect(okLine).toMatchObject({
      operation: "check-sale",
      protocol: "json",
      outcome: "ok",
      endpointId: TEST_ENDPOINT_ID,
      invoiceId: init.invoiceId,
    });
    const refusedLine = await s.logLineFor(refused.requestId);
    expect(refusedLine).toMatchObject({ operation: "check-sale", outcome: "error", code: "SESSION_MISMATCH" });
    // Which value differed goes to the log only.
    expect(JSON.stringify(refusedLine)).toContain("signature");
    const vLine = await s.logLineFor((await lastRequestIdOf("verification", v, vToken)) ?? "");
    expect(vLine).toMatchObject({ operation: "check-verification", outcome: "ok" });

    const secrets = [
      init.accessToken,
      sha256(init.accessToken),
      init.signature,
      init.nonce,
      token,
      sha256(token),
      v.accessToken,
      vToken,
      sha256(vToken),
      expectedCheckSignature(init),
    ];
    const all = JSON.stringify(s.logLines);
    for (const secret of secrets) expect(all).not.toContain(secret);
  });

  it("/metrics counts checks under operation check-sale and check-verification", async () => {
    const requests = async (labels: string) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const line = text
        .split("\n")
        .find((l) => l.startsWith("cp_requests_total{") && labels.split(",").every((p) => l.includes(p)));
      return line ? Number(line.split(" ").pop()) : 0;
    };
    const okSale = 'operation="check-sale",protocol="json",outcome="ok"';
    const notFound =
      'operation="check-sale",protocol="json",outcome="error",cause="INVALID_REQUEST",code="SESSION_NOT_FOUND"';
    const okVerification = 'operation="check-verification",protocol="json",outcome="ok"';
    const before = [await requests(okSale), await requests(notFound), await requests(okVerification)];
    const init = await initiate(s, "sale");
    const token = gatewayToken();
    for (let i = 0; i < 3; i++) {
      expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, token))).status).toBe(200);
    }
    for (let i = 0; i < 2; i++) {
      expect((await postCheck(s.url, "sale", unknownInvoice(), checkBody(init, token))).status).toBe(404);
    }
    const v = await initiate(s, "verification");
    expect((await postCheck(s.url, "verification", v.invoiceId, checkBody(v, gatewayToken()))).status).toBe(200);
    const after = [await requests(okSale), await requests(notFound), await requests(okVerification)];
    expect(after.map((n, i) => n - (before[i] ?? 0))).toEqual([3, 2, 1]);
  });
});

/** Checks `init` again with its bound token and returns that request's id (a repeat, for its log line). */
async function lastRequestIdOf(operation: "sale" | "verification", init: Initiated, token: string) {
  return (await postCheck(s.url, operation, init.invoiceId, checkBody(init, token))).requestId;
}

describe("gateway.allowFrom", () => {
  async function withServer(gateway: Record<string, unknown>, run: (t: TestServer) => Promise<void>) {
    const t = await startTestServer({ config: { gateway } });
    try {
      await run(t);
    } finally {
      await t.close();
    }
  }
  const check = (t: TestServer, init: Initiated, headers?: Record<string, string>) =>
    postCheck(t.url, init.operation, init.invoiceId, checkBody(init, gatewayToken()), { headers });

  it("a peer outside the ranges is refused the check paths (403 PEER_NOT_ALLOWED) but may initiate", async () => {
    await withServer({ allowFrom: ["192.0.2.0/24"] }, async (t) => {
      for (const operation of ["sale", "verification"] as const) {
        // The initiate is the app's path, not the gateway's: served.
        const init = await initiate(t, operation);
        const answer = await check(t, init);
        expectCheckRefusal(answer, 403, "PEER_NOT_ALLOWED", init.invoiceId);
        const stored = await t.server.store.findStoredSession(init.invoiceId);
        expect(stored?.state).toBe("initiated");
        expect(stored?.gatewayTokenHash).toBeUndefined();
        // A forged X-Forwarded-For naming an allowed address changes nothing: no trusted proxy.
        expectCheckRefusal(
          await check(t, init, { "x-forwarded-for": "192.0.2.7" }),
          403,
          "PEER_NOT_ALLOWED",
          init.invoiceId,
        );
      }
    });
  });

  it("a peer inside the ranges is served; a forwarded address is ignored without a trusted proxy", async () => {
    await withServer({ allowFrom: ["127.0.0.0/8", "::1/128"] }, async (t) => {
      const init = await initiate(t, "sale");
      const token = gatewayToken();
      const answer = await postCheck(t.url, "sale", init.invoiceId, checkBody(init, token), {
        headers: { "x-forwarded-for": "198.51.100.1" },
      });
      expectCheckAnswer(answer, init, token);
    });
  });

  it("behind a trusted proxy (loopback), the forwarded address decides", async () => {
    await withServer({ allowFrom: ["192.0.2.0/24"], trustedProxies: ["127.0.0.0/8"] }, async (t) => {
      const inside = await initiate(t, "sale");
      const token = gatewayToken();
      const served = await postCheck(t.url, "sale", inside.invoiceId, checkBody(inside, token), {
        headers: { "x-forwarded-for": "192.0.2.7" },
      });
      expectCheckAnswer(served, inside, token);

      const outside = await initiate(t, "verification");
      for (const forwarded of ["198.51.100.1", "192.0.2.7, 198.51.100.1", "192.0.2.7, 198.51.100.1, 127.0.0.1"]) {
        // The rightmost address not a trusted proxy is the peer; one the caller put to its left does not count.
        const answer = await check(t, outside, { "x-forwarded-for": forwarded });
        expectCheckRefusal(answer, 403, "PEER_NOT_ALLOWED", outside.invoiceId);
      }
      // No header: the proxy itself is the peer, and it is not in allowFrom.
      expectCheckRefusal(await check(t, outside), 403, "PEER_NOT_ALLOWED", outside.invoiceId);
      const through = await postCheck(t.url, "verification", outside.invoiceId, checkBody(outside, token.slice(1)), {
        headers: { "x-forwarded-for": "198.51.100.1, 192.0.2.9, 127.0.0.1" },
      });
      expectCheckAnswer(through, outside, token.slice(1));
    });
  });

  it("a forged X-Forwarded-For from a peer that is not a trusted proxy is ignored", async () => {
    await withServer({ allowFrom: ["192.0.2.0/24"], trustedProxies: ["10.0.0.0/8"] }, async (t) => {
      const init = await initiate(t, "sale");
      const answer = await check(t, init, { "x-forwarded-for": "192.0.2.7" });
      expectCheckRefusal(answer, 403, "PEER_NOT_ALLOWED", init.invoiceId);
    });
  });
});
