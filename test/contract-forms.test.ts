/**
 * Numbers and texts follow the contract on every protocol, against a real
 * server: `amountCentis` is a JSON integer or a plain decimal integer string,
 * `lat`/`lng` are JSON numbers, and a lone UTF-16 surrogate is refused in
 * every text field. Each form is sent on the JSON path (HTTP/1.1), as Connect
 * JSON (a real application/json POST, plain: the lean route; gzip: connect's
 * own path), as gRPC with JSON, and (for texts) as binary gRPC whose string
 * bytes are invalid UTF-8, by raw HTTP/2 and by a stock @grpc/grpc-js client.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { create, type JsonValue, toBinary } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { errorFromJson } from "@connectrpc/connect/protocol-connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema, SaleRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const SALE_JSON = "/sale/initiate-sale";
const SALE_RPC = "/toptechpay.initiate.v1.InitiateService/Sale";
const VERIFICATION_RPC = "/toptechpay.initiate.v1.InitiateService/Verification";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => s?.close());

type Body = Record<string, unknown>;

function set(body: Body, path: string, value: unknown): Body {
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node = body;
  for (const k of keys) node = node[k] as Body;
  node[last] = value;
  return body;
}

/** What a caller learns from a refusal: the status (HTTP or gRPC) and the catalogue code. */
interface Refusal {
  status: number | string;
  code: string | undefined;
}

function detailCode(error: ConnectError | undefined): string | undefined {
  return error?.findDetails(ErrorDetailSchema)[0]?.code;
}

/** The JSON path over HTTP/1.1. */
function jsonPath(body: Body, path = SALE_JSON): Promise<Refusal> {
  return new Promise((done, reject) => {
    const req = http.request(
      `${s.url}${path}`,
      { method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const answer = JSON.parse(Buffer.concat(chunks).toString()) as { error?: { code: string } };
          done({ status: res.statusCode ?? 0, code: answer.error?.code });
        });
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** Connect JSON over HTTP/1.1: plain (the lean route) or gzip (connect-node's own path). */
async function connectJson(body: Body, gzip: boolean, path = SALE_RPC): Promise<Refusal> {
  const text = JSON.stringify(body);
  const res = await fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(gzip ? { "content-encoding": "gzip" } : {}) },
    body: gzip ? gzipSync(text) : text,
  });
  const json = (await res.json()) as JsonValue;
  if (res.status === 200) return { status: 200, code: undefined };
  return { status: res.status, code: detailCode(errorFromJson(json, undefined, new ConnectError("none"))) };
}

/**
 * One gRPC call over raw HTTP/2 carrying `message` in one envelope; gzip
 * compressed, it goes through connect-node's own path instead of the fast route.
 */
async function grpcRaw(message: Uint8Array, contentType: string, gzip = false, path = SALE_RPC): Promise<Refusal> {
  const session = http2.connect(s.url);
  try {
    const payload = gzip ? gzipSync(message) : message;
    const envelope = Buffer.alloc(5 + payload.length);
    envelope[0] = gzip ? 1 : 0;
    envelope.writeUInt32BE(payload.length, 1);
    envelope.set(payload, 5);
    const stream = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": contentType,
      te: "trailers",
      ...(gzip ? { "grpc-encoding": "gzip" } : {}),
    });
    const headers = new Headers();
    const add = (h: http2.IncomingHttpHeaders) => {
      for (const [k, v] of Object.entries(h)) if (!k.startsWith(":") && v !== undefined) headers.set(k, String(v));
    };
    stream.on("response", add);
    stream.on("trailers", add);
    stream.resume();
    await new Promise<void>((done, reject) => {
      stream.on("close", done);
      stream.on("error", reject);
      stream.end(envelope);
    });
    return { status: headers.get("grpc-status") ?? "none", code: detailCode(findTrailerError(headers)) };
  } finally {
    session.close();
  }
}

function sessionRows(): number {
  const db = new Database(s.sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return Number(db.prepare("SELECT count(*) FROM sessions").pluck().get());
  } finally {
    db.close();
  }
}

/** Each JSON protocol, with its status for INVALID_ARGUMENT and for success. */
const JSON_PROTOCOLS: [string, (body: Body) => Promise<Refusal>, number | string, number | string][] = [
  ["JSON path", (b) => jsonPath(b), 400, 200],
  ["Connect JSON", (b) => connectJson(b, false), 400, 200],
  ["Connect JSON, gzip", (b) => connectJson(b, true), 400, 200],
  ["gRPC+json", (b) => grpcRaw(Buffer.from(JSON.stringify(b)), "application/grpc+json"), "3", "0"],
];

const AMOUNT_FORMS = ["0x10", " 45", "45 ", "1e1", "01015", "+5", "", "1015.0"];
const COORDINATE_FORMS = ["45", " 45", "0x10", "1e1", "+5", ""];
const LONE_SURROGATES: [string, unknown][] = [
  ["consumer.device.serialNumber", "SN-\ud800"],
  ["consumer.device.imei", "35693803564380\udfff"],
  ["consumer.ipAddresses", ["192.0.2.\udc00"]],
  ["session.accessToken", `${"a".repeat(40)}\ud83d`],
  ["transaction.currency", "EU\ud800"],
];

for (const [protocol, send, status, ok] of JSON_PROTOCOLS) {
  describe(`contract forms over ${protocol}`, () => {
    for (const form of AMOUNT_FORMS) {
      it(`refuses amountCentis ${JSON.stringify(form)} with FIELD_FORMAT and stores nothing`, async () => {
        const before = sessionRows();
        const body = set(saleBody(s.accessToken), "transaction.amountCentis", form);
        expect(await send(body)).toEqual({ status, code: "FIELD_FORMAT" });
        expect(sessionRows()).toBe(before);
      });
    }
    for (const form of COORDINATE_FORMS) {
      it(`refuses lat ${JSON.stringify(form)} and lng ${JSON.stringify(form)} with FIELD_TYPE`, async () => {
        expect(await send(set(saleBody(s.accessToken), "location.lat", form))).toEqual({ status, code: "FIELD_TYPE" });
        expect(await send(set(saleBody(s.accessToken), "location.lng", form))).toEqual({ status, code: "FIELD_TYPE" });
      });
    }
    for (const [path, value] of LONE_SURROGATES) {
      it(`refuses a lone surrogate in ${path} with FIELD_FORMAT and stores nothing`, async () => {
        const before = sessionRows();
        expect(await send(set(saleBody(s.accessToken), path, value))).toEqual({ status, code: "FIELD_FORMAT" });
        expect(sessionRows()).toBe(before);
      });
    }
    it('accepts amountCentis 1015 and "1015" and a serial number with a surrogate pair', async () => {
      const token = await s.issueToken("SN-\u{1F600}");
      for (const amount of [1015, "1015"]) {
        const body = set(saleBody(token), "transaction.amountCentis", amount);
        set(body, "consumer.device.serialNumber", "SN-\u{1F600}");
        expect(await send(body)).toEqual({ status: ok, code: undefined });
      }
    });
  });
}

describe("contract forms, proto field names and verification over Connect JSON", () => {
  it("reads amount_centis and serial_number like their JSON names", async () => {
    const amount = saleBody(s.accessToken) as Body;
    const transaction = amount.transaction as Body;
    transaction.amount_centis = "0x10";
    delete transaction.amountCentis;
    expect(await connectJson(amount, false)).toEqual({ status: 400, code: "FIELD_FORMAT" });
    const serial = saleBody(s.accessToken) as Body;
    (serial.consumer as Body).device = { serial_number: "SN-\ud800" };
    expect(await connectJson(serial, false)).toEqual({ status: 400, code: "FIELD_FORMAT" });
  });

  it("refuses a string lat on Verification too", async () => {
    const body = set(verificationBody(s.accessToken), "location", { lat: "45", lng: 14.5 });
    expect(await connectJson(body, false, VERIFICATION_RPC)).toEqual({ status: 400, code: "FIELD_TYPE" });
    expect(await jsonPath(body, "/verification/initiate-verification")).toEqual({ status: 400, code: "FIELD_TYPE" });
  });
});

/** The stock client's Sale method, as proto-loader builds it. */
type SaleClient = grpc.Client & { Sale(body: unknown, done: (err: grpc.ServiceError | null) => void): void };

/**
 * A binary SaleRequest whose field at `path` holds invalid UTF-8: the
 * encoding a lone surrogate gets from encoders that do not check (0xED 0xA0
 * 0x80, as protobufjs writes "\ud800"), spliced over a same-length marker.
 */
function binaryWithBadUtf8(path: string): Uint8Array {
  const marker =
    path === "consumer.ipAddresses" ? ["192.0.2.ZZZ"] : `${path.endsWith("accessToken") ? "a".repeat(40) : ""}ZZZ`;
  const body = set(saleBody(s.accessToken), path, marker);
  const bytes = Buffer.from(toBinary(SaleRequestSchema, create(SaleRequestSchema, body as never)));
  const at = bytes.indexOf("ZZZ");
  expect(at).toBeGreaterThan(0);
  bytes.set([0xed, 0xa0, 0x80], at);
  return bytes;
}

describe("contract forms over binary gRPC (invalid UTF-8 in a string field)", () => {
  for (const [path] of LONE_SURROGATES) {
    it(`refuses invalid UTF-8 in ${path} with INVALID_ARGUMENT BODY_NOT_PROTOBUF (fast route and connect)`, async () => {
      const before = sessionRows();
      const bytes = binaryWithBadUtf8(path);
      expect(await grpcRaw(bytes, "application/grpc")).toEqual({ status: "3", code: "BODY_NOT_PROTOBUF" });
      expect(await grpcRaw(bytes, "application/grpc", true)).toEqual({ status: "3", code: "BODY_NOT_PROTOBUF" });
      expect(sessionRows()).toBe(before);
    });
  }

  it("refuses a lone surrogate sent by a stock @grpc/grpc-js client (protobufjs encodes it as invalid UTF-8)", async () => {
    const definition = protoLoader.loadSync(
      resolve(import.meta.dirname, "../proto/toptechpay/initiate/v1/initiate.proto"),
      {
        keepCase: false,
        longs: String,
      },
    );
    const pkg = grpc.loadPackageDefinition(definition) as unknown as {
      toptechpay: { initiate: { v1: { InitiateService: grpc.ServiceClientConstructor } } };
    };
    // gzip-compressed messages, so the call goes through connect-node's own gRPC path.
    const client = new pkg.toptechpay.initiate.v1.InitiateService(
      `127.0.0.1:${s.port}`,
      grpc.credentials.createInsecure(),
      { "grpc.default_compression_algorithm": grpc.compressionAlgorithms.gzip },
    ) as unknown as SaleClient;
    try {
      const before = sessionRows();
      const error = await new Promise<grpc.ServiceError>((done, reject) => {
        const body = set(saleBody(s.accessToken), "consumer.device.serialNumber", "SN-\ud800");
        client.Sale(body, (err) => (err ? done(err) : reject(new Error("accepted"))));
      });
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
      const detailBytes = error.metadata.get("grpc-status-details-bin")[0];
      expect(detailBytes).toBeInstanceOf(Buffer);
      const detail = findTrailerError(
        new Headers({ "grpc-status": "3", "grpc-status-details-bin": (detailBytes as Buffer).toString("base64") }),
      );
      expect(detailCode(detail)).toBe("BODY_NOT_PROTOBUF");
      expect(sessionRows()).toBe(before);
    } finally {
      client.close();
    }
  });
});
