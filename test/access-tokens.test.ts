/**
 * Access tokens end to end against real servers: AuthService over gRPC and
 * Connect with API keys, the tokens used for sales and verifications over
 * JSON and gRPC, every reason a token is refused, open issuance off and on,
 * tokens surviving a restart, and the auth configuration.
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthService } from "../gen/toptechpay/auth/v1/auth_pb.js";
import { ErrorDetailSchema, InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { buildConfig, ConfigError } from "../src/config/load-config.js";
import { developmentConfig } from "../src/config/read-config.js";
import { issueToken } from "./support/access-tokens.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const KEY = "current-api-key-0123456789abcdef";
const OLD_KEY = "previous-api-key-0123456789abcdef";
const TOKEN_FORM = /^[A-Za-z0-9_-]{64}$/;

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function saleBody(accessToken: string, serialNumber: string) {
  return {
    consumer: { device: { serialNumber } },
    session: { accessToken },
    transaction: { amountCentis: 1000, currency: "EUR" },
  };
}

/** Any answer of ours, loosely: each test reads the fields its answer has. */
interface Answer {
  readonly error: { readonly cause: string; readonly code: string; readonly message: string };
  readonly session: { readonly accessToken: string; readonly expiresAt: string; readonly signature: string };
  readonly accessToken: string;
  readonly expiresAt: string;
  /** Connect's own error code, on a Connect error answer. */
  readonly code: string;
}

async function postJson(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer };
}

/** Expects a ConnectError with this code and an ErrorDetail with this catalogue code. */
async function expectRpcError(call: Promise<unknown>, code: Code, detailCode: string) {
  const e = await call.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConnectError);
  const err = e as ConnectError;
  expect(err.code).toBe(code);
  const details = err.findDetails(ErrorDetailSchema);
  expect(details.map((d) => d.code)).toEqual([detailCode]);
  return err;
}

describe("access tokens over AuthService (open issuance off)", () => {
  let s: TestServer;
  let grpcAuth: ReturnType<typeof createClient<typeof AuthService>>;
  let grpcInitiate: ReturnType<typeof createClient<typeof InitiateService>>;
  const issued: string[] = [];

  beforeAll(async () => {
    s = await startTestServer({ config: { auth: { apiKeys: [{ key: KEY }, { key: OLD_KEY }] } } });
    const grpc = createGrpcTransport({ baseUrl: s.url });
    grpcAuth = createClient(AuthService, grpc);
    grpcInitiate = createClient(InitiateService, grpc);
  });
  afterAll(async () => {
    await s?.close();
  });

  /** How many tokens the store holds, and how many of them are revoked. */
  function countTokens() {
    const db = new Database(s.sqlitePath, { readonly: true });
    try {
      return db.prepare("SELECT count(*) AS total, count(revoked_at_ms) AS revoked FROM access_tokens").get();
    } finally {
      db.close();
    }
  }

  async function sale(token: string, serialNumber: string) {
    return postJson(`${s.url}/sale/initiate-sale`, saleBody(token, serialNumber));
  }

  async function grpcIssue(serialNumber: string, lifetime?: string) {
    const res = await grpcAuth.issueAccessToken(
      { serialNumber, ...(lifetime ? { lifetime: { seconds: BigInt(lifetime), nanos: 0 } } : {}) },
      { headers: bearer(KEY) },
    );
    issued.push(res.accessToken);
    return res;
  }

  /** A refused sale: 401, the one public code, and the precise reason in the log only. */
  async function expectRefused(token: string, serialNumber: string, reason: RegExp) {
    const res = await sale(token, serialNumber);
    expect(res.status).toBe(401);
    expect(res.body.error.cause).toBe("INVALID_REQUEST");
    expect(res.body.error.code).toBe("ACCESS_TOKEN_INVALID");
    expect(res.body.error.message).toBe("The access token is not valid for this device; get a new one.");
    const line = await s.logLineFor(res.headers.get("x-request-id") as string);
    expect(line?.code).toBe("ACCESS_TOKEN_INVALID");
    expect(line?.reason).toMatch(reason);
  }

  it("issues a 64-character URL-safe token over gRPC, valid 60 minutes, stored only as its hash", async () => {
    const before = Date.now();
    const res = await grpcIssue("SN-1");
    expect(res.accessToken).toMatch(TOKEN_FORM);
    expect(res.expiresAt).toBeDefined();
    const expires = timestampDate(res.expiresAt as NonNullable<typeof res.expiresAt>).getTime();
    expect(expires).toBeGreaterThanOrEqual(before + 3600_000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3600_000);
    const other = await grpcIssue("SN-1");
    expect(other.accessToken).not.toBe(res.accessToken);

    const db = new Database(s.sqlitePath, { readonly: true });
    try {
      const rows = db.prepare("SELECT * FROM access_tokens").all() as Record<string, unknown>[];
      expect(rows.map((r) => r.token_hash)).toContain(sha256(res.accessToken));
      expect(JSON.stringify(rows)).not.toContain(res.accessToken);
      const row = rows.find((r) => r.token_hash === sha256(res.accessToken));
      expect(row).toMatchObject({ serial_number: "SN-1", expires_at_ms: expires, revoked_at_ms: null });
    } finally {
      db.close();
    }
  });

  it("the token starts a sale over JSON and a verification over gRPC, more than once", async () => {
    const { accessToken } = await grpcIssue("SN-2");
    const first = await sale(accessToken, "SN-2");
    expect(first.status).toBe(200);
    expect(first.body.session.signature).toMatch(/^[0-9A-F]{40}$/);
    expect((await sale(accessToken, "SN-2")).status).toBe(200);
    const verification = await grpcInitiate.verification({
      consumer: { device: { serialNumber: "SN-2" } },
      session: { accessToken },
      transaction: { currency: "USD" },
    });
    expect(verification.endpointId).toBe("1111");
    const sold = await grpcInitiate.sale({
      consumer: { device: { serialNumber: "SN-2" } },
      session: { accessToken },
      transaction: { amountCentis: 5n, currency: "EUR" },
    });
    expect(sold.session?.signature).toMatch(/^[0-9A-F]{40}$/);
  });

  it("issues over Connect JSON exactly as documented, with a lifetime", async () => {
    const before = Date.now();
    const res = await postJson(
      `${s.url}/toptechpay.auth.v1.AuthService/IssueAccessToken`,
      { serialNumber: "SN-1", lifetime: "600s" },
      bearer(KEY),
    );
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(["accessToken", "expiresAt"]);
    expect(res.body.accessToken).toMatch(TOKEN_FORM);
    expect(res.body.expiresAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    const expires = Date.parse(res.body.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 600_000 - 1);
    expect(expires).toBeLessThanOrEqual(Date.now() + 600_000);
    issued.push(res.body.accessToken);
    expect((await sale(res.body.accessToken, "SN-1")).status).toBe(200);
  });

  it("refuses a token issued for another device, over JSON and gRPC", async () => {
    const { accessToken } = await grpcIssue("SN-3");
    await expectRefused(accessToken, "SN-4", /another device/);
    await expectRpcError(
      grpcInitiate.verification({
        consumer: { device: { serialNumber: "SN-4" } },
        session: { accessToken },
        transaction: { currency: "EUR" },
      }),
      Code.Unauthenticated,
      "ACCESS_TOKEN_INVALID",
    );
    expect((await sale(accessToken, "SN-3")).status).toBe(200);
  });

  it("refuses an expired token", async () => {
    const { accessToken } = await grpcIssue("SN-5", "1");
    expect((await sale(accessToken, "SN-5")).status).toBe(200);
    await sleep(1100);
    await expectRefused(accessToken, "SN-5", /expired/);
  });

  it("refuses a revoked token; revoking twice or an unknown token changes nothing", async () => {
    const { accessToken } = await grpcIssue("SN-6");
    const keep = await grpcIssue("SN-6");
    expect((await grpcAuth.revokeAccessToken({ accessToken }, { headers: bearer(KEY) })).revoked).toBe(true);
    expect((await grpcAuth.revokeAccessToken({ accessToken }, { headers: bearer(KEY) })).revoked).toBe(false);
    expect((await grpcAuth.revokeAccessToken({ accessToken: "x".repeat(64) }, { headers: bearer(KEY) })).revoked).toBe(
      false,
    );
    await expectRefused(accessToken, "SN-6", /revoked/);
    expect((await sale(keep.accessToken, "SN-6")).status).toBe(200);
  });

  it("revokes every token of a device and only that device", async () => {
    const a = await grpcIssue("SN-7");
    const b = await grpcIssue("SN-7");
    const other = await grpcIssue("SN-8");
    const res = await grpcAuth.revokeDeviceTokens({ serialNumber: "SN-7" }, { headers: bearer(KEY) });
    expect(res.revokedCount).toBe(2);
    await expectRefused(a.accessToken, "SN-7", /revoked/);
    await expectRefused(b.accessToken, "SN-7", /revoked/);
    expect((await sale(other.accessToken, "SN-8")).status).toBe(200);
    const again = await grpcAuth.revokeDeviceTokens({ serialNumber: "SN-7" }, { headers: bearer(KEY) });
    expect(again.revokedCount).toBe(0);
  });

  it("refuses unknown tokens, including an invented one of the documented form", async () => {
    await expectRefused("0123456789abcdef0123456789abcdef", "SN-1", /unknown/);
    await expectRefused("A".repeat(64), "SN-1", /unknown/);
    await expectRpcError(
      grpcInitiate.sale({
        consumer: { device: { serialNumber: "SN-1" } },
        session: { accessToken: "B".repeat(64) },
        transaction: { amountCentis: 100n, currency: "EUR" },
      }),
      Code.Unauthenticated,
      "ACCESS_TOKEN_INVALID",
    );
  });

  it("accepts every configured API key, so keys can be rotated", async () => {
    const res = await grpcAuth.issueAccessToken({ serialNumber: "SN-9" }, { headers: bearer(OLD_KEY) });
    issued.push(res.accessToken);
    expect(res.accessToken).toMatch(TOKEN_FORM);
  });

  it("refuses a missing, wrong or malformed API key with UNAUTHENTICATED over gRPC and Connect", async () => {
    const tokensBefore = countTokens();
    const calls: [string, Record<string, string>][] = [
      ["no header", {}],
      ["wrong key", bearer(`${KEY}x`)],
      ["prefix of a key", bearer(KEY.slice(0, 20))],
      ["not Bearer", { authorization: `Basic ${KEY}` }],
      ["empty Bearer", { authorization: "Bearer " }],
    ];
    for (const [, headers] of calls) {
      await expectRpcError(
        grpcAuth.issueAccessToken({ serialNumber: "SN-1" }, { headers }),
        Code.Unauthenticated,
        "API_KEY_INVALID",
      );
      await expectRpcError(
        grpcAuth.revokeDeviceTokens({ serialNumber: "SN-1" }, { headers }),
        Code.Unauthenticated,
        "API_KEY_INVALID",
      );
    }
    const res = await postJson(
      `${s.url}/toptechpay.auth.v1.AuthService/IssueAccessToken`,
      { serialNumber: "SN-1" },
      bearer("wrong-key-0123456789abcdef"),
    );
    expect(res.status).toBe(401);
    expect(res.body.code).toBe("unauthenticated");
    // Nothing was issued or revoked by the refused calls.
    expect(countTokens()).toEqual(tokensBefore);
  });

  it("checks AuthService requests like the initiate fields", async () => {
    const h = { headers: bearer(KEY) };
    await expectRpcError(grpcAuth.issueAccessToken({}, h), Code.InvalidArgument, "FIELD_REQUIRED");
    await expectRpcError(
      grpcAuth.issueAccessToken({ serialNumber: "S".repeat(51) }, h),
      Code.InvalidArgument,
      "FIELD_LENGTH",
    );
    await expectRpcError(grpcAuth.issueAccessToken({ serialNumber: "SN\n1" }, h), Code.InvalidArgument, "FIELD_FORMAT");
    for (const seconds of [0n, -5n, 31n * 24n * 3600n]) {
      await expectRpcError(
        grpcAuth.issueAccessToken({ serialNumber: "SN-1", lifetime: { seconds, nanos: 0 } }, h),
        Code.InvalidArgument,
        "FIELD_RANGE",
      );
    }
    await expectRpcError(grpcAuth.revokeAccessToken({}, h), Code.InvalidArgument, "FIELD_REQUIRED");
    await expectRpcError(grpcAuth.revokeDeviceTokens({}, h), Code.InvalidArgument, "FIELD_REQUIRED");
  });

  it("has no open issuance unless configured", async () => {
    const res = await postJson(`${s.url}/auth/access-token`, { consumer: { device: { serialNumber: "SN-1" } } });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ cause: "INVALID_REQUEST", code: "ROUTE_NOT_FOUND" });
  });

  it("never logs a full token", () => {
    expect(issued.length).toBeGreaterThan(10);
    const log = JSON.stringify(s.logLines);
    for (const token of issued) expect(log).not.toContain(token);
  });
});

describe("AuthService with no API key configured", () => {
  it("refuses every call", async () => {
    const s = await startTestServer();
    try {
      const client = createClient(AuthService, createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }));
      await expectRpcError(
        client.issueAccessToken({ serialNumber: "SN-1" }, { headers: bearer(KEY) }),
        Code.Unauthenticated,
        "API_KEY_INVALID",
      );
    } finally {
      await s.close();
    }
  });
});

describe("open issuance (development)", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ config: { auth: { openIssuance: true } } });
  });
  afterAll(async () => {
    await s?.close();
  });

  it("issues a token to anyone naming a device, usable for that device", async () => {
    const before = Date.now();
    const res = await postJson(`${s.url}/auth/access-token`, { consumer: { device: { serialNumber: "SN-O" } } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(["session"]);
    expect(Object.keys(res.body.session).sort()).toEqual(["accessToken", "expiresAt"]);
    expect(res.body.session.accessToken).toMatch(TOKEN_FORM);
    expect(Date.parse(res.body.session.expiresAt)).toBeGreaterThanOrEqual(before + 3600_000);
    const token = res.body.session.accessToken as string;
    expect((await postJson(`${s.url}/sale/initiate-sale`, saleBody(token, "SN-O"))).status).toBe(200);
    expect((await postJson(`${s.url}/sale/initiate-sale`, saleBody(token, "SN-P"))).status).toBe(401);
    expect(JSON.stringify(s.logLines)).not.toContain(token);
  });

  it("answers bad requests with the documented error body", async () => {
    const url = `${s.url}/auth/access-token`;
    const cases: [unknown, number, string][] = [
      ["{not json", 400, "BODY_NOT_JSON"],
      ["", 400, "BODY_EMPTY"],
      [[], 400, "BODY_NOT_OBJECT"],
      [{}, 400, "FIELD_REQUIRED"],
      [{ consumer: { device: "SN-1" } }, 400, "FIELD_TYPE"],
      [{ consumer: { device: {} } }, 400, "FIELD_REQUIRED"],
      [{ consumer: { device: { serialNumber: 7 } } }, 400, "FIELD_TYPE"],
      [{ consumer: { device: { serialNumber: "" } } }, 400, "FIELD_LENGTH"],
      [{ consumer: { device: { serialNumber: "a\u0000b" } } }, 400, "FIELD_FORMAT"],
      [{ consumer: { device: { serialNumber: "x" } }, padding: "p".repeat(70_000) }, 413, "BODY_TOO_LARGE"],
    ];
    for (const [body, status, code] of cases) {
      const res = await postJson(url, body);
      expect([res.status, res.body.error?.code]).toEqual([status, code]);
      expect(res.body.error.cause).toBe("INVALID_REQUEST");
    }
    const text = await fetch(url, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" });
    expect(text.status).toBe(415);
    expect(((await text.json()) as { error: { code: string } }).error.code).toBe("CONTENT_TYPE_UNSUPPORTED");
    const get = await fetch(url);
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect(((await get.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("the test helper issues tokens by URL and through the server", async () => {
    const byUrl = await issueToken(s.url, "SN-H");
    const byServer = await issueToken(s, "SN-H");
    for (const token of [byUrl, byServer]) {
      expect((await postJson(`${s.url}/sale/initiate-sale`, saleBody(token, "SN-H"))).status).toBe(200);
    }
  });
});

describe("tokens across a restart", () => {
  it("a token issued before a restart is still good after it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-tokens-"));
    try {
      const config = { auth: { apiKeys: [{ key: KEY }] } };
      const first = await startTestServer({ dir, config });
      const client = createClient(AuthService, createGrpcTransport({ baseUrl: first.url }));
      const { accessToken } = await client.issueAccessToken({ serialNumber: "SN-R" }, { headers: bearer(KEY) });
      const revoked = await client.issueAccessToken({ serialNumber: "SN-R" }, { headers: bearer(KEY) });
      await client.revokeAccessToken({ accessToken: revoked.accessToken }, { headers: bearer(KEY) });
      await first.close();

      const second = await startTestServer({ dir, config });
      try {
        const ok = await postJson(`${second.url}/sale/initiate-sale`, saleBody(accessToken, "SN-R"));
        expect(ok.status).toBe(200);
        const no = await postJson(`${second.url}/sale/initiate-sale`, saleBody(revoked.accessToken, "SN-R"));
        expect([no.status, no.body.error.code]).toEqual([401, "ACCESS_TOKEN_INVALID"]);
      } finally {
        await second.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("auth configuration", () => {
  const endpoints = [{ id: "1111", controlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20", operations: ["sale"] }];

  it("defaults: no keys, open issuance off, 60-minute tokens", () => {
    const config = buildConfig({ endpoints }, { env: {}, baseDir: tmpdir() });
    expect(config.auth).toEqual({ apiKeys: [], openIssuance: false, tokenLifetimeSeconds: 3600 });
  });

  it("reads keys inline, from an env var and from a file", () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-keys-"));
    try {
      writeFileSync(join(dir, "api-key"), "file-api-key-0123456789abcdef\n");
      const config = buildConfig(
        {
          endpoints,
          auth: {
            apiKeys: [{ key: KEY }, { keyEnv: "CP_TEST_API_KEY" }, { keyFile: "api-key" }],
            tokenLifetimeSeconds: 900,
          },
        },
        { env: { CP_TEST_API_KEY: OLD_KEY }, baseDir: dir },
      );
      expect(config.auth.apiKeys).toEqual([KEY, OLD_KEY, "file-api-key-0123456789abcdef"]);
      expect(config.auth.tokenLifetimeSeconds).toBe(900);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("names each problem without showing a key", () => {
    const problems = (auth: unknown, env: Record<string, string> = {}) => {
      try {
        buildConfig({ endpoints, auth }, { env, baseDir: tmpdir() });
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as ConfigError).problems.join("\n");
      }
      throw new Error("expected a ConfigError");
    };
    expect(problems({ apiKeys: [{ keyEnv: "CP_NOT_SET" }] })).toMatch(/auth\.apiKeys\[0\]\.keyEnv: .*CP_NOT_SET/);
    expect(problems({ apiKeys: [{ keyFile: "/nonexistent/key" }] })).toMatch(
      /auth\.apiKeys\[0\]\.keyFile: cannot read/,
    );
    const short = problems({ apiKeys: [{ key: "short-secret" }] });
    expect(short).toMatch(/auth\.apiKeys\[0\]: .*at least 16 characters/);
    expect(short).not.toContain("short-secret");
    expect(problems({ apiKeys: [{ key: KEY, keyEnv: "X" }] })).toMatch(/exactly one of key, keyEnv or keyFile/);
    expect(problems({ openIssuance: "yes" })).toMatch(/auth\.openIssuance/);
    expect(problems({ tokenLifetimeSeconds: 0 })).toMatch(/auth\.tokenLifetimeSeconds/);
    expect(problems({ apiKey: KEY })).toMatch(/auth/);
  });

  it("the development start turns open issuance on and needs no key", () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-dev-"));
    try {
      const { config } = developmentConfig(dir);
      expect(config.auth).toEqual({ apiKeys: [], openIssuance: true, tokenLifetimeSeconds: 3600 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
