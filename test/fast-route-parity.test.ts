/**
 * The fast routes (grpc-unary-route.ts, connect-unary-route.ts) answer exactly
 * as connect-node does: the same bytes go to a server with its fast routes and
 * to one built without them (createServer's `fastRoutes: false` seam), over
 * raw node:http2 so trailers are seen, and the answers must match in status,
 * significant headers (grpc-status-details-bin decoded), body and trailers,
 * once the per-request random values are normalised. This also guards the
 * exact pin of @connectrpc/* (README): the fast routes use its
 * `protocol*` helpers, which are not a stable public API.
 */
import * as http2 from "node:http2";
import { create, fromBinary, fromJson, type JsonObject, toBinary, toJsonString } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  SaleRequestSchema,
  SaleResponseSchema,
  VerificationRequestSchema,
  VerificationResponseSchema,
} from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { decodeStatusDetails } from "./support/grpc-js-client.js";
import { saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let fast: TestServer;
let plain: TestServer;
beforeAll(async () => {
  fast = await startTestServer();
  plain = await startTestServer({ fastRoutes: false });
});
afterAll(async () => {
  await fast?.close();
  await plain?.close();
});

interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: string;
  trailers: Record<string, unknown>;
}

const SIGNIFICANT = ["content-type", "grpc-status", "grpc-message", "grpc-encoding", "retry-after"];

function normalise(text: string): string {
  return text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<uuid>")
    .replace(/"nonce":"[^"]+"/g, '"nonce":"<nonce>"')
    .replace(/"signature":"[0-9A-F]{40}"/g, '"signature":"<sig>"');
}

function significant(h: http2.IncomingHttpHeaders | Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of SIGNIFICANT) if (h[k] !== undefined) out[k] = h[k];
  const bin = h["grpc-status-details-bin"];
  if (bin !== undefined) out.details = decodeStatusDetails(Buffer.from(String(bin), "base64"));
  return out;
}

async function send(url: string, headers: http2.OutgoingHttpHeaders, body: Buffer): Promise<Answer> {
  const session = http2.connect(url);
  try {
    return await new Promise<Answer>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ...headers });
      const chunks: Buffer[] = [];
      let status = 0;
      let head: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      stream.on("response", (h) => {
        head = h;
        status = Number(h[":status"]);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("error", reject);
      stream.on("close", () => {
        const raw = Buffer.concat(chunks);
        // A gRPC message is compared as its JSON (its random values normalised).
        const type = String(head["content-type"] ?? "");
        const grpc = type.startsWith("application/grpc") && raw.length > 0;
        const schema = String(headers[":path"]).endsWith("/Sale") ? SaleResponseSchema : VerificationResponseSchema;
        const text = grpc
          ? `flags ${raw[0]} length ${raw.readUInt32BE(1)} ${toJsonString(schema, fromBinary(schema, raw.subarray(5)))}`
          : raw.toString("utf8");
        resolve({ status, headers: significant(head), body: normalise(text), trailers: significant(trailers) });
      });
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

function envelope(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, Buffer.from(bytes)]);
}

type Case = [name: string, path: string, headers: http2.OutgoingHttpHeaders, body: (token: string) => Buffer];

const SALE = "/toptechpay.initiate.v1.InitiateService/Sale";
const VERIFICATION = "/toptechpay.initiate.v1.InitiateService/Verification";
const JSON_TYPE = { "content-type": "application/json" };
const GRPC_TYPE = { "content-type": "application/grpc", te: "trailers" };
const json = (v: unknown) => () => Buffer.from(JSON.stringify(v));
const sale = (t: string) => saleBody(t) as JsonObject;

const cases: Case[] = [
  ["Connect JSON sale", SALE, JSON_TYPE, (t) => Buffer.from(JSON.stringify(sale(t)))],
  ["Connect JSON verification", VERIFICATION, JSON_TYPE, (t) => Buffer.from(JSON.stringify(verificationBody(t)))],
  [
    "Connect JSON, charset",
    SALE,
    { "content-type": "application/json; charset=utf-8" },
    (t) => Buffer.from(JSON.stringify(sale(t))),
  ],
  ["Connect JSON, not JSON", SALE, JSON_TYPE, () => Buffer.from("{nope")],
  ["Connect JSON, empty body", SALE, JSON_TYPE, () => Buffer.alloc(0)],
  ["Connect JSON, an array", SALE, JSON_TYPE, json([1])],
  ["Connect JSON, wrong type", SALE, JSON_TYPE, (t) => Buffer.from(JSON.stringify({ ...sale(t), consumer: 5 }))],
  [
    "Connect JSON, field missing",
    SALE,
    JSON_TYPE,
    (t) => Buffer.from(JSON.stringify({ ...sale(t), transaction: undefined })),
  ],
  ["Connect JSON, bad token", SALE, JSON_TYPE, () => Buffer.from(JSON.stringify(sale("x".repeat(64))))],
  ["Connect JSON, timeout header", SALE, { ...JSON_TYPE, "connect-timeout-ms": "5000" }, json({})],
  ["Connect JSON, protocol version", SALE, { ...JSON_TYPE, "connect-protocol-version": "1" }, json({})],
  ["Connect JSON, too large", SALE, JSON_TYPE, () => Buffer.from(JSON.stringify({ pad: "x".repeat(70_000) }))],
  [
    "Connect JSON, currency not accepted",
    VERIFICATION,
    JSON_TYPE,
    (t) => Buffer.from(JSON.stringify({ ...verificationBody(t), transaction: { currency: "GBP" } })),
  ],
  ["gRPC sale", SALE, GRPC_TYPE, (t) => envelope(toBinary(SaleRequestSchema, fromJson(SaleRequestSchema, sale(t))))],
  [
    "gRPC verification",
    VERIFICATION,
    GRPC_TYPE,
    (t) =>
      envelope(
        toBinary(VerificationRequestSchema, fromJson(VerificationRequestSchema, verificationBody(t) as JsonObject)),
      ),
  ],
  ["gRPC empty message", SALE, GRPC_TYPE, () => envelope(toBinary(SaleRequestSchema, create(SaleRequestSchema)))],
  ["gRPC no message", SALE, GRPC_TYPE, () => Buffer.alloc(0)],
  ["gRPC garbage", SALE, GRPC_TYPE, () => envelope(Buffer.from([0xff, 0xff, 0xff]))],
  ["gRPC broken frame", SALE, GRPC_TYPE, () => Buffer.from([0, 0, 0, 0, 9, 1])],
  ["gRPC header only, no payload", SALE, GRPC_TYPE, () => Buffer.from([0, 0, 0, 0, 9])],
  ["gRPC two messages", SALE, GRPC_TYPE, () => Buffer.concat([envelope(new Uint8Array()), envelope(new Uint8Array())])],
  ["gRPC compressed flag, no encoding", SALE, GRPC_TYPE, () => Buffer.from([1, 0, 0, 0, 0])],
  ["gRPC caller deadline header", SALE, { ...GRPC_TYPE, "grpc-timeout": "5S" }, () => envelope(new Uint8Array())],
  [
    "gRPC bad token",
    SALE,
    GRPC_TYPE,
    () => envelope(toBinary(SaleRequestSchema, fromJson(SaleRequestSchema, sale("y".repeat(64))))),
  ],
  ["gRPC too large", SALE, GRPC_TYPE, () => envelope(Buffer.alloc(70_000, 1))],
  [
    "gRPC, grpc+proto type",
    SALE,
    { ...GRPC_TYPE, "content-type": "application/grpc+proto" },
    () => envelope(new Uint8Array()),
  ],
];

describe("fast routes answer exactly as connect-node", () => {
  for (const [name, path, headers, body] of cases) {
    it(name, async () => {
      const a = await send(fast.url, { ":path": path, ...headers }, body(await fast.issueToken()));
      const b = await send(plain.url, { ":path": path, ...headers }, body(await plain.issueToken()));
      expect(a).toEqual(b);
    });
  }
});
