/**
 * InitiateService over Connect (JSON and binary, HTTP/1.1 and HTTP/2), gRPC
 * and gRPC-Web with the connect-node clients, against a real server. Also the
 * bodies connect-es would otherwise refuse before our code runs (a wrong JSON
 * type, garbage protobuf bytes): they must get INVALID_ARGUMENT with the same
 * ErrorDetail a JSON caller reads.
 */
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import { create, fromJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { errorFromJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import {
  compressionGzip,
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ErrorDetailSchema,
  InitiateService,
  SaleRequestSchema,
  VerificationRequestSchema,
} from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { ERROR_CATALOGUE, type ErrorCode } from "../src/core/error-catalogue.js";
import { connectCodeOf } from "../src/http/connect-errors.js";
import { type Answer, expectSignedAnswer, SERIAL, saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const SALE_PATH = "/toptechpay.initiate.v1.InitiateService/Sale";

let s: TestServer;
let transports: [string, Transport][];
beforeAll(async () => {
  s = await startTestServer();
  const baseUrl = s.url;
  transports = [
    ["Connect JSON, HTTP/1.1", createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false })],
    ["Connect binary, HTTP/1.1", createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true })],
    ["Connect JSON, HTTP/2", createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: false })],
    ["Connect binary, HTTP/2", createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true })],
    ["gRPC", createGrpcTransport({ baseUrl })],
    ["gRPC, gzip", createGrpcTransport({ baseUrl, sendCompression: compressionGzip, compressMinBytes: 1 })],
    [
      "Connect JSON, HTTP/2, gzip",
      createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: false,
        sendCompression: compressionGzip,
        compressMinBytes: 1,
      }),
    ],
    ["gRPC-Web, HTTP/1.1", createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
    ["gRPC-Web, HTTP/2", createGrpcWebTransport({ baseUrl, httpVersion: "2" })],
  ];
});
afterAll(async () => {
  await s?.close();
});

/** The ErrorDetail of a ConnectError; exactly one is expected. */
function detailOf(error: ConnectError) {
  const details = error.findDetails(ErrorDetailSchema);
  expect(details).toHaveLength(1);
  const { cause, code, message } = details[0] as { cause: string; code: string; message: string };
  return { cause, code, message };
}

async function rpcError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (e) {
    expect(e).toBeInstanceOf(ConnectError);
    return e as ConnectError;
  }
  throw new Error("the call succeeded but an error was expected");
}

describe("every transport", () => {
  it("starts a sale and a verification whose signatures verify", async () => {
    for (const [name, transport] of transports) {
      const client = createClient(InitiateService, transport);
      const sale = await client.sale(fromJson(SaleRequestSchema, saleBody(s.accessToken) as JsonObject));
      expectSignedAnswer(sale as never, { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
      const verification = await client.verification(
        fromJson(VerificationRequestSchema, verificationBody(s.accessToken) as JsonObject),
      );
      expectSignedAnswer(verification as never, { accessToken: s.accessToken, currency: "USD" });
      expect(sale.invoiceId, name).not.toBe(verification.invoiceId);
    }
  });

  it("answers an invalid request with INVALID_ARGUMENT and an ErrorDetail", async () => {
    for (const [name, transport] of transports) {
      const client = createClient(InitiateService, transport);
      const request = create(SaleRequestSchema, {
        consumer: { device: { serialNumber: "SN-000001" } },
        session: { accessToken: s.accessToken },
        transaction: { amountCentis: 0n, currency: "EUR" },
      });
      const error = await rpcError(client.sale(request));
      expect(error.code, name).toBe(Code.InvalidArgument);
      const detail = detailOf(error);
      expect(detail.cause).toBe("INVALID_REQUEST");
      expect(detail.code).toBe("FIELD_RANGE");
      expect(detail.message).toContain("transaction.amountCentis");
      expect(error.rawMessage).toBe(detail.message);
    }
  });

  it("answers a currency no endpoint accepts with PERMISSION_DENIED / CURRENCY_NOT_ACCEPTED", async () => {
    for (const [name, transport] of transports) {
      const client = createClient(InitiateService, transport);
      const body = verificationBody(s.accessToken);
      body.transaction = { currency: "JPY" };
      const error = await rpcError(client.verification(fromJson(VerificationRequestSchema, body as JsonObject)));
      expect(error.code, name).toBe(Code.PermissionDenied);
      expect(detailOf(error)).toMatchObject({ cause: "FILTERED", code: "CURRENCY_NOT_ACCEPTED" });
    }
  });
});

type Body = Record<string, Record<string, unknown>>;
const badRequests: [string, (b: Body) => void, ErrorCode][] = [
  ["no consumer", (b) => unset(b, "consumer"), "FIELD_REQUIRED"],
  ["no serial number", (b) => unset(b, "consumer.device.serialNumber"), "FIELD_REQUIRED"],
  ["a 51-character serial number", (b) => set(b, "consumer.device.serialNumber", "S".repeat(51)), "FIELD_LENGTH"],
  [
    "a serial number with a control character",
    (b) => set(b, "consumer.device.serialNumber", "SN\u0007"),
    "FIELD_FORMAT",
  ],
  ["a 13-digit IMEI", (b) => set(b, "consumer.device.imei", "3569380356438"), "FIELD_FORMAT"],
  ["a bad IPv4 address", (b) => set(b, "consumer.ipAddresses", ["999.1.1.1"]), "FIELD_FORMAT"],
  ["latitude 90.5", (b) => set(b, "location.lat", 90.5), "FIELD_RANGE"],
  ["longitude -181", (b) => set(b, "location.lng", -181), "FIELD_RANGE"],
  ["a 31-character access token", (b) => set(b, "session.accessToken", "t".repeat(31)), "FIELD_LENGTH"],
  ["no amount", (b) => unset(b, "transaction.amountCentis"), "FIELD_REQUIRED"],
  ["amount 0", (b) => set(b, "transaction.amountCentis", 0), "FIELD_RANGE"],
  ["a lower-case currency", (b) => set(b, "transaction.currency", "eur"), "FIELD_FORMAT"],
  ["currency XXY", (b) => set(b, "transaction.currency", "XXY"), "CURRENCY_UNKNOWN"],
  ["currency GBP (no endpoint)", (b) => set(b, "transaction.currency", "GBP"), "CURRENCY_NOT_ACCEPTED"],
  [
    "an access token this server never issued",
    (b) => set(b, "session.accessToken", "x".repeat(40)),
    "ACCESS_TOKEN_INVALID",
  ],
];

function set(body: Body, path: string, value: unknown): void {
  const keys = path.split(".");
  let at: Record<string, unknown> = body;
  for (const k of keys.slice(0, -1)) {
    if (at[k] === undefined) at[k] = {};
    at = at[k] as Record<string, unknown>;
  }
  at[keys.at(-1) as string] = value;
}

function unset(body: Body, path: string): void {
  const keys = path.split(".");
  let at: Record<string, unknown> = body;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  delete at[keys.at(-1) as string];
}

describe("the same bad request gets the same answer over JSON, Connect, gRPC and gRPC-Web", () => {
  for (const [what, breakIt, code] of badRequests) {
    it(`${what}: ${code}`, async () => {
      const body = saleBody(s.accessToken) as Body;
      breakIt(body);
      const spec = ERROR_CATALOGUE[code];

      const res = await fetch(`${s.url}/sale/initiate-sale`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(spec.httpStatus);
      const jsonError = ((await res.json()) as { error: { cause: string; code: string; message: string } }).error;
      expect(jsonError.code).toBe(code);

      const request = fromJson(SaleRequestSchema, body as JsonObject);
      for (const [name, transport] of transports) {
        const error = await rpcError(createClient(InitiateService, transport).sale(request));
        expect(error.code, name).toBe(connectCodeOf(spec.connectCode));
        expect(detailOf(error), name).toEqual(jsonError);
      }
    });
  }
});

/** A Connect unary POST with a raw body, decoded back into a ConnectError. */
async function connectRaw(contentType: string, body: Uint8Array | string) {
  const res = await fetch(`${s.url}${SALE_PATH}`, { method: "POST", headers: { "content-type": contentType }, body });
  expect(res.headers.get("content-type")).toBe("application/json");
  expect(res.headers.get("x-request-id")).toBeTruthy();
  return {
    status: res.status,
    error: errorFromJson((await res.json()) as JsonValue, undefined, new ConnectError("no error")),
  };
}

/** A gRPC call over HTTP/2 with a raw message (one envelope), decoded back into a ConnectError. */
async function grpcRaw(message: Uint8Array, contentType = "application/grpc"): Promise<ConnectError | undefined> {
  const session = http2.connect(s.url);
  try {
    const envelope = Buffer.alloc(5 + message.length);
    envelope.writeUInt32BE(message.length, 1);
    envelope.set(message, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": SALE_PATH,
      "content-type": contentType,
      te: "trailers",
    });
    const headers = new Headers();
    const add = (h: http2.IncomingHttpHeaders) => {
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) headers.set(k, String(v));
    };
    stream.on("response", add);
    stream.on("trailers", add);
    stream.resume();
    await new Promise<void>((resolve, reject) => {
      stream.on("close", resolve);
      stream.on("error", reject);
      stream.end(envelope);
    });
    return findTrailerError(headers);
  } finally {
    session.close();
  }
}

describe("bodies connect-es would refuse before our code runs", () => {
  const wrongTypes: [string, (b: Body) => void, string, string][] = [
    ["serialNumber as a number", (b) => set(b, "consumer.device.serialNumber", 5), "FIELD_TYPE", "serialNumber"],
    ["amountCentis 10.5", (b) => set(b, "transaction.amountCentis", 10.5), "FIELD_FORMAT", "amountCentis"],
    ["ipAddresses as a string", (b) => set(b, "consumer.ipAddresses", "1.2.3.4"), "FIELD_TYPE", "ipAddresses"],
    ["location as a list", (b) => set(b, "location", [1, 2]), "FIELD_TYPE", "location"],
  ];
  for (const [what, breakIt, code, field] of wrongTypes) {
    it(`Connect JSON with ${what}: INVALID_ARGUMENT, ${code} naming the field, as on the JSON path`, async () => {
      const body = saleBody(s.accessToken) as Body;
      breakIt(body);
      const { status, error } = await connectRaw("application/json", JSON.stringify(body));
      expect(status).toBe(400);
      expect(error.code).toBe(Code.InvalidArgument);
      const detail = detailOf(error);
      expect(detail).toMatchObject({ cause: "INVALID_REQUEST", code });
      expect(detail.message).toContain(field);
      const res = await fetch(`${s.url}/sale/initiate-sale`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(((await res.json()) as { error: unknown }).error).toEqual(detail);
    });
  }

  it("Connect JSON that is not JSON, empty, or an array: the JSON path's codes", async () => {
    for (const [body, code] of [
      ["{", "BODY_NOT_JSON"],
      ["", "BODY_EMPTY"],
      ["[]", "BODY_NOT_OBJECT"],
    ] as const) {
      const { status, error } = await connectRaw("application/json", body);
      expect(status).toBe(400);
      expect(error.code).toBe(Code.InvalidArgument);
      expect(detailOf(error).code).toBe(code);
    }
  });

  // Field 1 (consumer) claims 5 bytes, but only 1 follows.
  const garbage = new Uint8Array([0x0a, 0x05, 0x01]);

  it("Connect binary with garbage bytes: INVALID_ARGUMENT, BODY_NOT_PROTOBUF", async () => {
    const { status, error } = await connectRaw("application/proto", garbage);
    expect(status).toBe(400);
    expect(error.code).toBe(Code.InvalidArgument);
    expect(detailOf(error)).toMatchObject({ cause: "INVALID_REQUEST", code: "BODY_NOT_PROTOBUF" });
  });

  it("gRPC with garbage bytes: INVALID_ARGUMENT, BODY_NOT_PROTOBUF (not INTERNAL)", async () => {
    const error = await grpcRaw(garbage);
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(detailOf(error as ConnectError)).toMatchObject({ cause: "INVALID_REQUEST", code: "BODY_NOT_PROTOBUF" });
    const line = s.logLines.findLast((l) => l.code === "BODY_NOT_PROTOBUF");
    expect(line).toMatchObject({ protocol: "grpc", operation: "sale", outcome: "error" });
  });

  it("gRPC-Web over HTTP/1.1 with garbage bytes: INVALID_ARGUMENT, BODY_NOT_PROTOBUF", async () => {
    const envelope = new Uint8Array([0, 0, 0, 0, garbage.length, ...garbage]);
    const res = await fetch(`${s.url}${SALE_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: envelope,
    });
    expect(res.headers.get("x-request-id")).toBeTruthy();
    // Trailers-only answers put grpc-status in the headers; otherwise it is in
    // the trailer frame (flag 0x80) at the end of the body.
    const headers = new Headers(res.headers);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > 5 && (bytes[0] ?? 0) & 0x80) {
      for (const line of new TextDecoder().decode(bytes.subarray(5)).split("\r\n")) {
        const colon = line.indexOf(":");
        if (colon > 0) headers.set(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
    }
    const error = findTrailerError(headers);
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(detailOf(error as ConnectError).code).toBe("BODY_NOT_PROTOBUF");
  });

  it("gRPC+JSON with a wrong JSON type: INVALID_ARGUMENT, FIELD_TYPE", async () => {
    const body = saleBody(s.accessToken) as Body;
    set(body, "consumer.device.serialNumber", 5);
    const error = await grpcRaw(new TextEncoder().encode(JSON.stringify(body)), "application/grpc+json");
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(detailOf(error as ConnectError).code).toBe("FIELD_TYPE");
  });

  it("gRPC with no message at all: INVALID_ARGUMENT, BODY_EMPTY", async () => {
    const session = http2.connect(s.url);
    const stream = session.request({ ":method": "POST", ":path": SALE_PATH, "content-type": "application/grpc" });
    const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
      let got: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        got = { ...got, ...h };
      });
      stream.on("trailers", (h) => {
        got = { ...got, ...h };
      });
      stream.resume();
      stream.on("close", () => resolve(got));
      stream.on("error", reject);
      stream.end();
    });
    session.close();
    const headers = new Headers(Object.entries(trailers).filter(([k]) => !k.startsWith(":")) as [string, string][]);
    const error = findTrailerError(headers);
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(detailOf(error as ConnectError).code).toBe("BODY_EMPTY");
  });

  it("a gzip body that is over the limit once decompressed: RESOURCE_EXHAUSTED, BODY_TOO_LARGE", async () => {
    const body = saleBody(s.accessToken) as Body;
    body.padding = { text: "x".repeat(200 * 1024) };
    const zipped = gzipSync(JSON.stringify(body));
    expect(zipped.length).toBeLessThan(64 * 1024);
    const res = await fetch(`${s.url}${SALE_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json", "content-encoding": "gzip" },
      body: zipped,
    });
    const error = errorFromJson((await res.json()) as JsonValue, undefined, new ConnectError("no error"));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(detailOf(error).code).toBe("BODY_TOO_LARGE");
  });

  it("a Connect body over the limit: RESOURCE_EXHAUSTED, BODY_TOO_LARGE", async () => {
    const body = saleBody(s.accessToken) as Body;
    body.padding = { text: "x".repeat(70 * 1024) };
    const { error } = await connectRaw("application/json", JSON.stringify(body));
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(detailOf(error).code).toBe("BODY_TOO_LARGE");
  });
});

describe("proto3 JSON over Connect", () => {
  // A proto3 JSON parser must accept the proto field names too; the body
  // check in front of connect must not refuse what protobuf-es accepts.
  it("accepts the proto field names (serial_number, access_token, amount_centis) and signs the sale", async () => {
    const body = {
      consumer: { device: { serial_number: SERIAL } },
      session: { access_token: s.accessToken },
      transaction: { amount_centis: "1015", currency: "EUR" },
    };
    const res = await fetch(`${s.url}${SALE_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expectSignedAnswer((await res.json()) as Answer, {
      accessToken: s.accessToken,
      amountCentis: 1015,
      currency: "EUR",
    });
  });
});
