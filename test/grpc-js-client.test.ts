/**
 * The server as a stock gRPC caller sees it: @grpc/grpc-js with
 * @grpc/proto-loader over the repo's .proto files, ErrorDetail decoded from
 * grpc-status-details-bin with protobufjs (test/support/grpc-js-client.ts).
 * Every catalogue code a gRPC caller can reach gets its status code and its
 * ErrorDetail, on the fast route (InitiateService, uncompressed protobuf) and
 * on the paths connect-node serves (compressed calls, AuthService, unknown
 * methods). And the frame shape of an error: one HEADERS frame with END_STREAM.
 *
 * Catalogue codes NOT reachable with a stock gRPC client, and why:
 * - BODY_EMPTY, BODY_MALFORMED, CONTENT_TYPE_UNSUPPORTED, TIMEOUT_MALFORMED,
 *   METHOD_NOT_ALLOWED: grpc-js always sends one well-framed message with
 *   POST, `application/grpc` and a valid grpc-timeout; they are sent with
 *   raw node:http2 in rpc-refusals.test.ts.
 * - BODY_NOT_JSON, BODY_NOT_OBJECT, FIELD_TYPE: JSON bodies only (a protobuf
 *   field cannot hold a value of another type).
 * - HEADERS_TOO_LARGE, REQUEST_TIMEOUT, HTTP_MALFORMED: node:http's HTTP/1.1
 *   parser only; gRPC is HTTP/2.
 * - SHUTTING_DOWN: a draining server sends GOAWAY, so a gRPC client opens no
 *   new stream to it (shutdown.test.ts covers the answer over connect).
 * - STORE_UNAVAILABLE: needs the store to fail under a running server; a
 *   stock grpc-js client reads it in postgres-outage.test.ts, which stops
 *   PostgreSQL for real.
 * - INTERNAL_ERROR: only a bug in the server gives it.
 */
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../src/config/load-config.js";
import { ERROR_CATALOGUE, type ErrorCode } from "../src/core/error-catalogue.js";
import { createServer } from "../src/server.js";
import { type Detail, decodeStatusDetails, type GrpcFailure, grpcJsClients } from "./support/grpc-js-client.js";
import { expectSignedAnswer, saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import {
  startTestServer,
  TEST_CONTROL_KEY,
  TEST_ENDPOINT_ID,
  TEST_SERIAL,
  type TestServer,
} from "./support/test-server.js";

const FILTERS = {
  amounts: { EUR: { min: 100, max: 500000 } },
  blockedDevices: { serialNumbers: ["SN-BAD"], imeis: [] },
  ipAddresses: { block: ["203.0.113.0/24"], allow: ["192.0.2.0/24", "203.0.112.0/23"], required: true },
  locations: { required: true, allow: [{ minLat: 35, maxLat: 72, minLng: -25, maxLng: 45 }] },
  velocity: {
    perDevice: { max: 3, windowSeconds: 60 },
    perToken: { max: 2, windowSeconds: 60 },
    perIp: { max: 4, windowSeconds: 60 },
  },
};

// biome-ignore lint/suspicious/noExplicitAny: request bodies are edited freely to make them wrong.
type Body = any;

const API_KEY = "test-api-key-0123456789abcdef0123456789";

const GRPC_CODE: Record<string, number> = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  permission_denied: grpc.status.PERMISSION_DENIED,
  unimplemented: grpc.status.UNIMPLEMENTED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
  unavailable: grpc.status.UNAVAILABLE,
};

let s: TestServer;
let c: ReturnType<typeof grpcJsClients>;
let n = 0;
beforeAll(async () => {
  s = await startTestServer({ config: { filters: FILTERS, auth: { apiKeys: [{ key: API_KEY }] } } });
  c = grpcJsClients(s.port);
});
afterAll(async () => {
  c?.close();
  await s?.close();
});

/** A valid sale for a fresh device and IP (so velocity counts never spill over). */
async function sale(change: (body: Body) => void = () => {}, token?: string) {
  n++;
  const serial = `SN-G-${n}`;
  const body = saleBody(token ?? (await s.issueToken(serial))) as Body;
  body.consumer.device = { serialNumber: serial };
  body.consumer.ipAddresses = [`192.0.2.${n % 250}`];
  change(body);
  return body;
}

function expectFailure(out: { ok: boolean } & Partial<GrpcFailure>, code: ErrorCode): Detail {
  expect(out.ok, `expected ${code}`).toBe(false);
  const spec = ERROR_CATALOGUE[code];
  expect({ grpc: out.code, detail: out.detail?.code }).toEqual({ grpc: GRPC_CODE[spec.connectCode], detail: code });
  expect(out.statusCode).toBe(out.code);
  expect(out.detail?.cause).toBe(spec.cause);
  // connect writes grpc-message with encodeURIComponent (it escapes "/", ",",
  // ":" and more, which gRPC's spec allows), and grpc-js decodes it with
  // decodeURI, which leaves those escapes in: the text is the same once decoded.
  expect(out.detail?.message).toBe(decodeURIComponent(out.details ?? ""));
  return out.detail as Detail;
}

describe("a stock grpc-js client", () => {
  it("starts a sale and a verification whose signatures verify", async () => {
    const body = await sale();
    const out = await c.call(c.initiate, "Sale", body);
    expect(out.ok).toBe(true);
    if (!out.ok) return;
    expectSignedAnswer(out.value as never, {
      accessToken: (body.session as { accessToken: string }).accessToken,
      serialNumber: body.consumer.device.serialNumber,
      amountCentis: 1015,
      currency: "EUR",
    });
    const token = await s.issueToken();
    const v = await c.call(c.initiate, "Verification", {
      ...verificationBody(token),
      location: { lat: 46, lng: 14 },
      consumer: { device: { serialNumber: TEST_SERIAL }, ipAddresses: ["192.0.2.1"] },
    });
    expect(v.ok).toBe(true);
  });

  const cases: [ErrorCode, (b: Body) => void][] = [
    ["FIELD_REQUIRED", (b) => delete b.transaction],
    ["FIELD_LENGTH", (b) => (b.consumer.device.serialNumber = "S".repeat(51))],
    ["FIELD_FORMAT", (b) => (b.consumer.device.serialNumber = "SN\n1")],
    ["FIELD_RANGE", (b) => (b.location.lat = 91)],
    ["CURRENCY_UNKNOWN", (b) => (b.transaction.currency = "XYZ")],
    ["ACCESS_TOKEN_INVALID", (b) => (b.session.accessToken = "x".repeat(64))],
    ["CURRENCY_NOT_ACCEPTED", (b) => (b.transaction.currency = "GBP")],
    ["AMOUNT_BELOW_MINIMUM", (b) => (b.transaction.amountCentis = 99)],
    ["AMOUNT_ABOVE_MAXIMUM", (b) => (b.transaction.amountCentis = 500001)],
    ["IP_ADDRESS_REQUIRED", (b) => (b.consumer.ipAddresses = [])],
    ["IP_ADDRESS_BLOCKED", (b) => (b.consumer.ipAddresses = ["203.0.113.9"])],
    ["IP_ADDRESS_NOT_ALLOWED", (b) => (b.consumer.ipAddresses = ["198.51.100.1"])],
    ["LOCATION_REQUIRED", (b) => delete b.location],
    ["LOCATION_NOT_ALLOWED", (b) => (b.location = { lat: 10, lng: 10 })],
  ];
  for (const [code, change] of cases) {
    it(`${code}: status ${ERROR_CATALOGUE[code].connectCode} with its ErrorDetail`, async () => {
      expectFailure(await c.call(c.initiate, "Sale", await sale(change)), code);
    });
  }

  it("DEVICE_BLOCKED", async () => {
    const body = await sale(() => {}, await s.issueToken("SN-BAD"));
    body.consumer.device.serialNumber = "SN-BAD";
    expectFailure(await c.call(c.initiate, "Sale", body), "DEVICE_BLOCKED");
  });

  it("VELOCITY_TOKEN, VELOCITY_DEVICE, VELOCITY_IP", async () => {
    const token = await s.issueToken("SN-VT");
    const byToken = async () =>
      c.call(c.initiate, "Sale", await sale((b) => (b.consumer.device.serialNumber = "SN-VT"), token));
    expect((await byToken()).ok).toBe(true);
    expect((await byToken()).ok).toBe(true);
    expectFailure(await byToken(), "VELOCITY_TOKEN");

    const byDevice = async () =>
      c.call(
        c.initiate,
        "Sale",
        await sale((b) => (b.consumer.device.serialNumber = "SN-VD"), await s.issueToken("SN-VD")),
      );
    for (let i = 0; i < 3; i++) expect((await byDevice()).ok).toBe(true);
    expectFailure(await byDevice(), "VELOCITY_DEVICE");

    const byIp = async () => c.call(c.initiate, "Sale", await sale((b) => (b.consumer.ipAddresses = ["192.0.2.251"])));
    for (let i = 0; i < 4; i++) expect((await byIp()).ok).toBe(true);
    expectFailure(await byIp(), "VELOCITY_IP");
  });

  it("BODY_NOT_PROTOBUF for bytes that are not a SaleRequest (grpc-js's generic client)", async () => {
    const out = await c.raw("/toptechpay.initiate.v1.InitiateService/Sale", Buffer.from([0xff, 0xff, 0xff]));
    expectFailure(out as never, "BODY_NOT_PROTOBUF");
  });

  it("BODY_TOO_LARGE as RESOURCE_EXHAUSTED, fast route and compressed (connect's path)", async () => {
    const big = await sale((b) => (b.consumer.device.imei = "1".repeat(70_000)));
    expectFailure(await c.call(c.initiate, "Sale", big), "BODY_TOO_LARGE");
    const gz = grpcJsClients(s.port, { "grpc.default_compression_algorithm": 2 });
    try {
      expectFailure(await gz.call(gz.initiate, "Sale", big), "BODY_TOO_LARGE");
      // And a compressed call that is fine, and one refused by a field rule, on connect's path.
      expect((await gz.call(gz.initiate, "Sale", await sale())).ok).toBe(true);
      expectFailure(await gz.call(gz.initiate, "Sale", await sale((b) => (b.location.lng = 200))), "FIELD_RANGE");
    } finally {
      gz.close();
    }
  });

  it("ENCODING_UNSUPPORTED as UNIMPLEMENTED for a deflate request", async () => {
    const deflate = grpcJsClients(s.port, { "grpc.default_compression_algorithm": 1 });
    try {
      const d = expectFailure(await deflate.call(deflate.initiate, "Sale", await sale()), "ENCODING_UNSUPPORTED");
      expect(d.message).toContain("gzip");
    } finally {
      deflate.close();
    }
  });

  it("ROUTE_NOT_FOUND as UNIMPLEMENTED for an unknown method and an unknown service", async () => {
    for (const path of ["/toptechpay.initiate.v1.InitiateService/Nope", "/no.such.Service/X"]) {
      expectFailure((await c.raw(path, Buffer.alloc(0))) as never, "ROUTE_NOT_FOUND");
    }
  });

  it("API_KEY_INVALID on AuthService without or with a wrong key; a good key issues a token", async () => {
    expectFailure(await c.call(c.auth, "IssueAccessToken", { serialNumber: "SN-A" }), "API_KEY_INVALID");
    const wrong = new grpc.Metadata();
    wrong.set("authorization", "Bearer nope");
    expectFailure(await c.call(c.auth, "IssueAccessToken", { serialNumber: "SN-A" }, wrong), "API_KEY_INVALID");
    const good = new grpc.Metadata();
    good.set("authorization", `Bearer ${API_KEY}`);
    const out = await c.call(c.auth, "IssueAccessToken", { serialNumber: "SN-A" }, good);
    expect(out.ok && typeof out.value.accessToken).toBe("string");
  });
});

describe("OVERLOADED", () => {
  it("is UNAVAILABLE with its ErrorDetail while a request holds the only slot", async () => {
    const full = await startTestServer({ config: { limits: { maxInFlight: 1 } } });
    const session = http2.connect(full.url);
    const clients = grpcJsClients(full.port);
    try {
      // A JSON request whose body never ends holds the one slot.
      const held = session.request({
        ":method": "POST",
        ":path": "/sale/initiate-sale",
        "content-type": "application/json",
        "content-length": "100",
      });
      held.write("{");
      await new Promise((r) => setTimeout(r, 100));
      const body = saleBody(full.accessToken);
      for (const method of ["Sale", "Verification"]) {
        const out = await clients.call(
          clients.initiate,
          method,
          method === "Sale" ? body : verificationBody(full.accessToken),
        );
        expectFailure(out as never, "OVERLOADED");
        expect(out.ok || out.metadata.get("retry-after")).toEqual(["1"]);
      }
      held.close(http2.constants.NGHTTP2_CANCEL);
    } finally {
      clients.close();
      session.close();
      await full.close();
    }
  });
});

describe("DEADLINE_EXCEEDED (a store that waits on a PostgreSQL lock)", () => {
  let db: TestDatabase | undefined;
  pgIt("is DEADLINE_EXCEEDED with its ErrorDetail, from the server's deadline", async () => {
    db = await createTestDatabase("cp_grpcjs");
    const config = buildConfig(
      {
        server: { host: "127.0.0.1", port: 0 },
        store: { postgres: db.url, queryTimeoutMs: 20_000 },
        endpoints: [{ id: TEST_ENDPOINT_ID, controlKey: TEST_CONTROL_KEY, operations: ["sale"], currencies: ["EUR"] }],
        limits: { requestTimeoutMs: 300 },
      },
      { env: {}, baseDir: ".", sourceName: "test" },
    );
    const server = createServer(config, pino({ level: "silent" }));
    const { port } = await server.listen();
    const token = (await server.tokens.issue(TEST_SERIAL)).accessToken;
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    const clients = grpcJsClients(port);
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
      expectFailure((await clients.call(clients.initiate, "Sale", saleBody(token))) as never, "DEADLINE_EXCEEDED");
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      await locker.end();
      clients.close();
      await server.close(2000);
      await db.drop();
    }
  });
  it("runs only with PostgreSQL", () => {
    expect(PG_AVAILABLE || process.env.CI !== "true").toBe(true);
  });
});

describe("the frame shape of an error on the fast gRPC route", () => {
  it("is one HEADERS frame with END_STREAM: status and ErrorDetail in it, no DATA, no trailers", async () => {
    const session = http2.connect(s.url);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/toptechpay.initiate.v1.InitiateService/Sale",
        "content-type": "application/grpc",
        te: "trailers",
      });
      // A zero-length message: every required field missing.
      stream.end(Buffer.from([0, 0, 0, 0, 0]));
      const result = await new Promise<{
        headers: http2.IncomingHttpHeaders;
        flags: number;
        data: number;
        trailers: boolean;
      }>((resolve, reject) => {
        let headers: http2.IncomingHttpHeaders = {};
        let flags = 0;
        let data = 0;
        let trailers = false;
        stream.on("response", (h, f) => {
          headers = h;
          flags = f;
        });
        stream.on("data", (chunk: Buffer) => {
          data += chunk.length + 1;
        });
        stream.on("trailers", () => {
          trailers = true;
        });
        stream.on("error", reject);
        stream.on("close", () => resolve({ headers, flags, data, trailers }));
      });
      expect(result.flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBe(http2.constants.NGHTTP2_FLAG_END_STREAM);
      expect(result.data).toBe(0);
      expect(result.trailers).toBe(false);
      expect(result.headers[":status"]).toBe(200);
      expect(result.headers["content-type"]).toBe("application/grpc+proto");
      expect(result.headers["grpc-status"]).toBe(String(grpc.status.INVALID_ARGUMENT));
      expect(result.headers["x-request-id"]).toBeTruthy();
      const bin = Buffer.from(String(result.headers["grpc-status-details-bin"]), "base64");
      expect(decodeStatusDetails(bin).details[0]?.code).toBe("FIELD_REQUIRED");
    } finally {
      session.close();
    }
  });
});
