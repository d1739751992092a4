/**
 * GatewayService (CheckSale, CheckVerification) and SessionService (GetSession,
 * ListSessions) as internal callers see them: a stock @grpc/grpc-js client
 * built with @grpc/proto-loader from the repo's .proto files, and Connect's
 * JSON form (`application/json`) with plain fetch. Every check case gives the
 * same catalogue code and the same ErrorDetail over gRPC, Connect and the
 * JSON path, and binds nothing when refused. SessionService needs an API key,
 * never shows a secret, and pages through 1,000 sessions.
 */
import * as grpc from "@grpc/grpc-js";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE, type ErrorCode } from "../src/core/error-catalogue.js";
import type { Operation } from "../src/core/initiate-request.js";
import type { SessionRecord } from "../src/core/session-store.js";
import {
  type CheckBody,
  checkBody,
  expectCheckAnswer,
  expectedCheckSignature,
  expectNothingBound,
  gatewayToken,
  type Initiated,
  initiate,
  postCheck,
  sha256,
  unknownInvoice,
} from "./support/gateway-fixtures.js";
import {
  connectCall,
  expectRefused,
  grpcOutcome,
  type Outcome,
  TRANSPORTS,
  type Transport,
} from "./support/gateway-transports.js";
import { gatewayClientsForFile, grpcJsGatewayClients } from "./support/grpc-js-client.js";
import { serverForFile, startTestServer, TEST_ENDPOINT_ID, type TestServer } from "./support/test-server.js";

const API_KEY = "back-office-key-0123456789abcdef";

const s = await serverForFile({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
const c = gatewayClientsForFile(s.port);

const METHOD: Record<Operation, string> = { sale: "CheckSale", verification: "CheckVerification" };

/** A check over one transport, with the invoice id where that transport carries it. */
async function check(via: Transport, operation: Operation, invoiceId: string, body: CheckBody): Promise<Outcome> {
  if (via === "json") {
    const res = await postCheck(s.url, operation, invoiceId, body);
    if (res.status === 200) return { ok: true, answer: res.json };
    expect(res.json.invoiceId).toBe(invoiceId);
    expect(res.status).toBe(ERROR_CATALOGUE[res.json.error.code as ErrorCode].httpStatus);
    return { ok: false, ...res.json.error, transport: "json" };
  }
  const message = { invoiceId, ...body };
  if (via === "grpc") return grpcOutcome(await c.call(c.gateway, METHOD[operation], message));
  return connectCall(s.url, `/toptechpay.gateway.v1.GatewayService/${METHOD[operation]}`, message);
}

function expectAnswer(out: Outcome, init: Initiated, token: string): void {
  expect(out.ok, JSON.stringify(out)).toBe(true);
  if (!out.ok) return;
  expect(out.answer).toEqual({
    invoiceId: init.invoiceId,
    session: { checkSignature: expectedCheckSignature(init), nonce: init.nonce, token },
  });
}

function ageSession(invoiceId: string, seconds: number): void {
  const db = new Database(s.sqlitePath);
  try {
    db.pragma("busy_timeout = 5000");
    db.prepare("UPDATE sessions SET created_at_ms = created_at_ms - ? WHERE invoice_id = ?").run(
      seconds * 1000,
      invoiceId,
    );
  } finally {
    db.close();
  }
}

describe("GatewayService over gRPC (grpc-js) and Connect (JSON), and the JSON paths", () => {
  for (const via of TRANSPORTS) {
    for (const operation of ["sale", "verification"] as const) {
      it(`${via}: ${METHOD[operation]} answers the documented message, the same again on a retry`, async () => {
        const init = await initiate(s, operation);
        const token = gatewayToken();
        const first = await check(via, operation, init.invoiceId, checkBody(init, token));
        expectAnswer(first, init, token);
        expectAnswer(await check(via, operation, init.invoiceId, checkBody(init, token)), init, token);
        const stored = await s.server.store.findStoredSession(init.invoiceId);
        expect({ state: stored?.state, hash: stored?.gatewayTokenHash }).toEqual({
          state: "checked",
          hash: sha256(token),
        });
        // One core: a session checked on one transport answers the same on the others.
        for (const other of TRANSPORTS) {
          expectAnswer(await check(other, operation, init.invoiceId, checkBody(init, token)), init, token);
        }
      });
    }
  }

  // Each case: the operation to initiate, the operation to check as, and how to spoil the check.
  interface Case {
    readonly code: ErrorCode;
    readonly operation?: Operation;
    readonly checkAs?: Operation;
    /** Changes the body, or prepares the server; resolves with another invoice id to check, if any. */
    spoil(body: CheckBody, init: Initiated, via: Transport): Promise<string | undefined>;
    /** False when the refusal leaves the session bound (it was bound before). */
    readonly unbound?: boolean;
  }
  /** A spoil that only edits the body. */
  const edit =
    (change: (b: CheckBody) => void) =>
    async (b: CheckBody): Promise<undefined> => {
      change(b);
      return undefined;
    };
  const nothing = async () => undefined;
  const cases: Record<string, Case> = {
    "wrong serial number": {
      code: "SESSION_MISMATCH",
      spoil: edit((b) => {
        b.consumer.device.serialNumber = "SN-X";
      }),
    },
    "wrong access token": {
      code: "SESSION_MISMATCH",
      spoil: edit((b) => {
        b.session.accessToken = "A".repeat(64);
      }),
    },
    "wrong nonce": {
      code: "SESSION_MISMATCH",
      spoil: edit((b) => {
        b.session.nonce = "N".repeat(43);
      }),
    },
    "wrong signature": {
      code: "SESSION_MISMATCH",
      spoil: edit((b) => {
        b.session.signature = "0".repeat(40);
      }),
    },
    "revoked access token": {
      code: "SESSION_MISMATCH",
      operation: "verification",
      spoil: async (_b, init) => {
        expect(await s.server.tokens.revoke(init.accessToken)).toBe(true);
        return undefined;
      },
    },
    "a sale checked as a verification": { code: "SESSION_NOT_FOUND", checkAs: "verification", spoil: nothing },
    "a verification checked as a sale": {
      code: "SESSION_NOT_FOUND",
      operation: "verification",
      checkAs: "sale",
      spoil: nothing,
    },
    "unknown invoice": { code: "SESSION_NOT_FOUND", spoil: async () => unknownInvoice() },
    "outside the window": {
      code: "CHECK_WINDOW_CLOSED",
      spoil: async (_b, init) => {
        ageSession(init.invoiceId, 901);
        return undefined;
      },
    },
    "a second token": {
      code: "SESSION_ALREADY_CHECKED",
      unbound: false,
      spoil: async (_b, init, via) => {
        const first = gatewayToken();
        expectAnswer(await check(via, init.operation, init.invoiceId, checkBody(init, first)), init, first);
        return undefined;
      },
    },
    "a token bound to another session": {
      code: "GATEWAY_TOKEN_IN_USE",
      spoil: async (b, _init, via) => {
        const other = await initiate(s, "verification");
        const token = b.session.token as string;
        expectAnswer(await check(via, "verification", other.invoiceId, checkBody(other, token)), other, token);
        return undefined;
      },
    },
    "an unknown clientCardId on a sale": {
      code: "CARD_NOT_OWNED",
      spoil: edit((b) => {
        b.sourceOfFunds = { reference: { clientCardId: "card-1" } };
      }),
    },
    "missing session.token": {
      code: "FIELD_REQUIRED",
      spoil: edit((b) => {
        delete b.session.token;
      }),
    },
    "missing consumer.device": {
      code: "FIELD_REQUIRED",
      spoil: edit((b) => {
        delete b.consumer.device;
      }),
    },
    "session.token of 15 characters": {
      code: "FIELD_LENGTH",
      spoil: edit((b) => {
        b.session.token = "t".repeat(15);
      }),
    },
    "session.token of 37 characters": {
      code: "FIELD_LENGTH",
      spoil: edit((b) => {
        b.session.token = "t".repeat(37);
      }),
    },
    "a control character in session.token": {
      code: "FIELD_FORMAT",
      spoil: edit((b) => {
        b.session.token = `t\u0007${"t".repeat(20)}`;
      }),
    },
  };
  for (const [name, k] of Object.entries(cases)) {
    const operation = k.operation ?? "sale";
    const checkAs = k.checkAs ?? operation;
    const label = `${name}: ${k.code} (${ERROR_CATALOGUE[k.code].connectCode})`;
    it(`${label}, the same ErrorDetail on every transport`, async () => {
      const messages = new Map<Transport, string>();
      for (const via of TRANSPORTS) {
        const init = await initiate(s, operation);
        const body = checkBody(init, gatewayToken());
        const invoiceId = (await k.spoil(body, init, via)) ?? init.invoiceId;
        messages.set(via, expectRefused(await check(via, checkAs, invoiceId, body), k.code, invoiceId));
        if (k.unbound !== false) await expectNothingBound(s, init.invoiceId);
      }
      expect(messages.get("grpc")).toBe(messages.get("json"));
      expect(messages.get("connect")).toBe(messages.get("json"));
    });
  }

  it("a lone surrogate in session.token: FIELD_FORMAT over Connect JSON (protobuf cannot carry one)", async () => {
    const init = await initiate(s, "sale");
    const body = checkBody(init, `\ud800${"t".repeat(20)}`);
    expectRefused(await check("connect", "sale", init.invoiceId, body), "FIELD_FORMAT", init.invoiceId);
    const json = expectRefused(await check("json", "sale", init.invoiceId, body), "FIELD_FORMAT", init.invoiceId);
    // Under the proto field names too, with the same message naming the field.
    const snake = {
      invoice_id: init.invoiceId,
      consumer: { device: { serial_number: init.serialNumber } },
      session: {
        access_token: init.accessToken,
        nonce: init.nonce,
        signature: init.signature,
        token: body.session.token,
      },
    };
    const out = await connectCall(s.url, "/toptechpay.gateway.v1.GatewayService/CheckSale", snake);
    expect(expectRefused(out, "FIELD_FORMAT", init.invoiceId)).toBe(json);
    // A stock grpc-js client encodes it as invalid UTF-8 (protobufjs does not check): not a valid message.
    const grpcOut = grpcOutcome(await c.call(c.gateway, "CheckSale", { invoiceId: init.invoiceId, ...body }));
    expect(grpcOut).toMatchObject({ code: "BODY_NOT_PROTOBUF", grpcStatus: grpc.status.INVALID_ARGUMENT });
    await expectNothingBound(s, init.invoiceId);
    // The proto names decode like the JSON names: the same session checks under them.
    snake.session.token = gatewayToken();
    const ok = await connectCall(s.url, "/toptechpay.gateway.v1.GatewayService/CheckSale", snake);
    expectAnswer(ok, init, snake.session.token);
  });

  it("a request without invoiceId: INVALID_ARGUMENT FIELD_REQUIRED over gRPC and Connect", async () => {
    const init = await initiate(s, "sale");
    const body = checkBody(init, gatewayToken());
    const grpcOut = grpcOutcome(await c.call(c.gateway, "CheckSale", body));
    expect(grpcOut).toMatchObject({ ok: false, code: "FIELD_REQUIRED", grpcStatus: grpc.status.INVALID_ARGUMENT });
    expect(await connectCall(s.url, "/toptechpay.gateway.v1.GatewayService/CheckSale", body)).toMatchObject({
      code: "FIELD_REQUIRED",
    });
    await expectNothingBound(s, init.invoiceId);
  });

  it("a refused session still checks afterwards over gRPC", async () => {
    const init = await initiate(s, "verification");
    const token = gatewayToken();
    const wrong = checkBody(init, token);
    wrong.session.signature = "F".repeat(40);
    expectRefused(await check("grpc", "verification", init.invoiceId, wrong), "SESSION_MISMATCH", init.invoiceId);
    expectAnswer(await check("grpc", "verification", init.invoiceId, checkBody(init, token)), init, token);
  });

  it("gateway.allowFrom refuses GatewayService to other peers (PEER_NOT_ALLOWED) and leaves other services open", async () => {
    const t = await startTestServer({
      config: { gateway: { allowFrom: ["192.0.2.0/24"] }, auth: { apiKeys: [{ key: API_KEY }] } },
    });
    const tc = grpcJsGatewayClients(t.port);
    try {
      const init = await initiate(t, "sale");
      const message = { invoiceId: init.invoiceId, ...checkBody(init, gatewayToken()) };
      const g = grpcOutcome(await tc.call(tc.gateway, "CheckSale", message));
      expect(g).toMatchObject({ ok: false, code: "PEER_NOT_ALLOWED", grpcStatus: grpc.status.PERMISSION_DENIED });
      const connect = await connectCall(t.url, "/toptechpay.gateway.v1.GatewayService/CheckVerification", message);
      expect(connect).toMatchObject({ ok: false, code: "PEER_NOT_ALLOWED" });
      expect((await t.server.store.findStoredSession(init.invoiceId))?.state).toBe("initiated");
      // The back office is not the gateway: SessionService still answers.
      const got = await tc.call(tc.sessions, "GetSession", { invoiceId: init.invoiceId }, bearer(API_KEY));
      expect(got.ok).toBe(true);
    } finally {
      tc.close();
      await t.close();
    }
  });
});

function bearer(key: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set("authorization", `Bearer ${key}`);
  return m;
}

const SESSION_PATH = "/toptechpay.session.v1.SessionService";

describe("SessionService.GetSession", () => {
  it("needs an API key: none or a wrong one is UNAUTHENTICATED API_KEY_INVALID, over gRPC and Connect", async () => {
    const init = await initiate(s, "sale");
    for (const [method, request] of [
      ["GetSession", { invoiceId: init.invoiceId }],
      ["ListSessions", {}],
    ] as const) {
      for (const metadata of [new grpc.Metadata(), bearer("wrong-key-0123456789abcdef"), bearer(`${API_KEY}x`)]) {
        const out = grpcOutcome(await c.call(c.sessions, method, request, metadata));
        expect(out).toMatchObject({ ok: false, code: "API_KEY_INVALID", grpcStatus: grpc.status.UNAUTHENTICATED });
      }
      const wrongHeaders: Record<string, string>[] = [
        {},
        { authorization: "Bearer wrong-key-0123456789abcdef" },
        { authorization: API_KEY },
      ];
      for (const headers of wrongHeaders) {
        expect(await connectCall(s.url, `${SESSION_PATH}/${method}`, request, headers)).toMatchObject({
          ok: false,
          code: "API_KEY_INVALID",
        });
      }
    }
  });

  it("shows operation, endpoint, amount, currency, state and times, INITIATED then CHECKED, and never a secret", async () => {
    const init = await initiate(s, "sale");
    const get = async () => {
      const out = await c.call(c.sessions, "GetSession", { invoiceId: init.invoiceId }, bearer(API_KEY));
      expect(out.ok).toBe(true);
      return (out.ok ? out.value.session : undefined) as Record<string, unknown>;
    };
    const stored = await s.server.store.findStoredSession(init.invoiceId);
    const createdMs = stored?.createdAt.getTime() ?? 0;
    const before = await get();
    expect(before).toEqual({
      invoiceId: init.invoiceId,
      operation: "OPERATION_SALE",
      endpointId: TEST_ENDPOINT_ID,
      amountCentis: "1015",
      currency: "EUR",
      serialNumber: init.serialNumber,
      state: "STATE_INITIATED",
      createdAt: { seconds: String(Math.floor(createdMs / 1000)), nanos: (createdMs % 1000) * 1_000_000 },
    });

    const token = gatewayToken();
    const checked = await postCheck(s.url, "sale", init.invoiceId, checkBody(init, token));
    expectCheckAnswer(checked, init, token);
    const checkedMs = (await s.server.store.findStoredSession(init.invoiceId))?.checkedAt?.getTime() ?? 0;
    const after = await get();
    expect(after).toEqual({
      ...before,
      state: "STATE_CHECKED",
      checkedAt: { seconds: String(Math.floor(checkedMs / 1000)), nanos: (checkedMs % 1000) * 1_000_000 },
    });

    // The same over Connect JSON, in proto3 JSON's spelling.
    const connect = await connectCall(
      s.url,
      `${SESSION_PATH}/GetSession`,
      { invoiceId: init.invoiceId },
      {
        authorization: `Bearer ${API_KEY}`,
      },
    );
    expect(connect).toEqual({
      ok: true,
      answer: {
        session: {
          invoiceId: init.invoiceId,
          operation: "OPERATION_SALE",
          endpointId: TEST_ENDPOINT_ID,
          amountCentis: "1015",
          currency: "EUR",
          serialNumber: init.serialNumber,
          state: "STATE_CHECKED",
          createdAt: new Date(createdMs).toISOString(),
          checkedAt: new Date(checkedMs).toISOString(),
        },
      },
    });

    const seen = JSON.stringify([before, after, connect]);
    for (const secret of [
      init.accessToken,
      sha256(init.accessToken),
      init.nonce,
      init.signature,
      token,
      sha256(token),
      checked.json.session.checkSignature,
    ]) {
      expect(seen).not.toContain(secret);
    }
  });

  it("a verification has no amount; unknown is NOT_FOUND SESSION_NOT_FOUND; empty is FIELD_REQUIRED", async () => {
    const init = await initiate(s, "verification");
    const out = await c.call(c.sessions, "GetSession", { invoiceId: init.invoiceId }, bearer(API_KEY));
    expect(out.ok && out.value.session).toMatchObject({ operation: "OPERATION_VERIFICATION", currency: "USD" });
    expect(out.ok && "amountCentis" in (out.value.session as object)).toBe(false);
    const unknown = grpcOutcome(
      await c.call(c.sessions, "GetSession", { invoiceId: unknownInvoice() }, bearer(API_KEY)),
    );
    expect(unknown).toMatchObject({ code: "SESSION_NOT_FOUND", grpcStatus: grpc.status.NOT_FOUND });
    const empty = grpcOutcome(await c.call(c.sessions, "GetSession", { invoiceId: "" }, bearer(API_KEY)));
    expect(empty).toMatchObject({ code: "FIELD_REQUIRED", grpcStatus: grpc.status.INVALID_ARGUMENT });
  });
});

describe("SessionService.ListSessions over 1,000 sessions", () => {
  const COUNT = 1000;
  const SERIALS = ["SN-L-0", "SN-L-1", "SN-L-2", "SN-L-3"];
  let t: TestServer;
  let tc: ReturnType<typeof grpcJsGatewayClients>;
  let records: (SessionRecord & { checked: boolean })[];
  const base = Date.UTC(2030, 0, 1, 12, 0, 0, 123);

  beforeAll(async () => {
    t = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
    tc = grpcJsGatewayClients(t.port);
    records = Array.from({ length: COUNT }, (_, i) => ({
      invoiceId: crypto.randomUUID(),
      operation: i % 2 === 0 ? "sale" : "verification",
      endpointId: TEST_ENDPOINT_ID,
      nonce: `nonce-${i}-${"n".repeat(40)}`,
      signature: "A".repeat(40),
      amountCentis: i % 2 === 0 ? 100 + i : undefined,
      currency: i % 2 === 0 ? "EUR" : "USD",
      serialNumber: SERIALS[i % SERIALS.length] as string,
      imei: undefined,
      ipAddresses: [],
      location: undefined,
      accessTokenHash: sha256(`token-${i}`),
      // Three sessions per second share a creation time: the invoice id orders them.
      createdAt: new Date(base + Math.floor(i / 3) * 1000),
      checked: i % 5 === 0,
    }));
    // In parallel: the store commits them in groups.
    await Promise.all(records.map(({ checked: _, ...r }) => t.server.store.insertSession(r)));
    await Promise.all(
      records
        .filter((r) => r.checked)
        .map((r) => t.server.store.bindGatewayToken(r.invoiceId, sha256(`gw-${r.invoiceId}`), new Date())),
    );
  });
  afterAll(async () => {
    tc?.close();
    await t?.close();
  });

  const newestFirst = (a: SessionRecord, b: SessionRecord) =>
    b.createdAt.getTime() - a.createdAt.getTime() || (a.invoiceId < b.invoiceId ? 1 : -1);
  const ts = (ms: number) => ({ seconds: String(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });

  /** Every page of a listing over grpc-js; returns the invoice ids in order and the page count. */
  async function listAll(request: Record<string, unknown>) {
    const ids: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const out = await tc.call(tc.sessions, "ListSessions", { ...request, pageToken }, bearer(API_KEY));
      if (!out.ok) throw new Error(`ListSessions failed: ${out.detail?.code} ${out.details}`);
      const sessions = (out.value.sessions ?? []) as { invoiceId: string }[];
      ids.push(...sessions.map((x) => x.invoiceId));
      pageToken = (out.value.nextPageToken as string | undefined) ?? "";
      pages++;
      expect(pages).toBeLessThan(COUNT);
    } while (pageToken !== "");
    return { ids, pages };
  }

  it("pages through all of them, each exactly once, newest first", async () => {
    const expected = [...records].sort(newestFirst).map((r) => r.invoiceId);
    const odd = await listAll({ pageSize: 97 });
    expect(odd.pages).toBe(Math.ceil(COUNT / 97));
    expect(new Set(odd.ids).size).toBe(COUNT);
    expect(odd.ids).toEqual(expected);
    // The default page size is 100: exactly ten pages, the last one without a next token.
    const byDefault = await listAll({});
    expect(byDefault).toEqual({ ids: expected, pages: 10 });
    const largest = await listAll({ pageSize: 500 });
    expect(largest).toEqual({ ids: expected, pages: 2 });
  });

  it("filters by serial number, state and time range, alone and together", async () => {
    const expect_ = (keep: (r: (typeof records)[number]) => boolean) =>
      records
        .filter(keep)
        .sort(newestFirst)
        .map((r) => r.invoiceId);
    const from = base + 100 * 1000;
    const before = base + 200 * 1000;
    const inRange = (r: SessionRecord) => r.createdAt.getTime() >= from && r.createdAt.getTime() < before;

    const bySerial = await listAll({ serialNumber: "SN-L-2", pageSize: 60 });
    expect(bySerial.ids).toEqual(expect_((r) => r.serialNumber === "SN-L-2"));
    expect(bySerial.ids).toHaveLength(COUNT / 4);
    expect((await listAll({ state: "STATE_CHECKED", pageSize: 60 })).ids).toEqual(expect_((r) => r.checked));
    expect((await listAll({ state: "STATE_INITIATED" })).ids).toEqual(expect_((r) => !r.checked));
    expect((await listAll({ state: "STATE_FINAL" })).ids).toEqual([]);
    // created_from is inclusive, created_before exclusive: both bounds fall on sessions' creation times.
    const range = await listAll({ createdFrom: ts(from), createdBefore: ts(before), pageSize: 50 });
    expect(range.ids).toEqual(expect_(inRange));
    expect(range.ids).toHaveLength(300);
    const all = await listAll({
      serialNumber: "SN-L-1",
      state: "STATE_INITIATED",
      createdFrom: ts(from),
      createdBefore: ts(before),
      pageSize: 7,
    });
    expect(all.ids).toEqual(expect_((r) => r.serialNumber === "SN-L-1" && !r.checked && inRange(r)));
    expect(all.ids.length).toBeGreaterThan(0);
    expect((await listAll({ serialNumber: "SN-NONE" })).ids).toEqual([]);
  });

  it("answers proto3 JSON over Connect, with no secret in it", async () => {
    const out = await connectCall(
      t.url,
      `${SESSION_PATH}/ListSessions`,
      { serialNumber: "SN-L-0", state: "STATE_CHECKED", pageSize: 3 },
      { authorization: `Bearer ${API_KEY}` },
    );
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    const sessions = out.answer.sessions as Record<string, unknown>[];
    const expected = records
      .filter((r) => r.serialNumber === "SN-L-0" && r.checked)
      .sort(newestFirst)
      .slice(0, 3);
    expect(sessions.map((x) => x.invoiceId)).toEqual(expected.map((r) => r.invoiceId));
    expect(sessions[0]).toMatchObject({ state: "STATE_CHECKED", serialNumber: "SN-L-0" });
    expect(typeof out.answer.nextPageToken).toBe("string");
    const text = JSON.stringify(out.answer);
    for (const r of expected) {
      for (const secret of [r.nonce, r.accessTokenHash, sha256(`gw-${r.invoiceId}`)])
        expect(text).not.toContain(secret);
    }
    expect(text).not.toContain(records[0]?.signature);
  });

  it("refuses a malformed page token (FIELD_FORMAT) and a page size outside 0-500 (FIELD_RANGE)", async () => {
    const list = async (request: Record<string, unknown>) =>
      grpcOutcome(await tc.call(tc.sessions, "ListSessions", request, bearer(API_KEY)));
    const invalid = { grpcStatus: grpc.status.INVALID_ARGUMENT };
    for (const pageToken of ["not a token!", Buffer.from('{"a":1}').toString("base64url"), "WzEsMl0"]) {
      expect(await list({ pageToken })).toMatchObject({ code: "FIELD_FORMAT", ...invalid });
    }
    expect(await list({ pageSize: 501 })).toMatchObject({ code: "FIELD_RANGE", ...invalid });
    expect(await list({ pageSize: -1 })).toMatchObject({ code: "FIELD_RANGE", ...invalid });
    expect(
      await connectCall(
        t.url,
        `${SESSION_PATH}/ListSessions`,
        { pageSize: 501 },
        { authorization: `Bearer ${API_KEY}` },
      ),
    ).toMatchObject({ code: "FIELD_RANGE" });
    expect(
      await connectCall(
        t.url,
        `${SESSION_PATH}/ListSessions`,
        { pageToken: "%%%" },
        { authorization: `Bearer ${API_KEY}` },
      ),
    ).toMatchObject({ code: "FIELD_FORMAT" });
  });
});
