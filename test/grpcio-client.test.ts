/**
 * The server as Python's stock grpcio (Debian's python3-grpcio) sees it: a
 * client written by neither this project nor connect. Every answer must be
 * readable: success, errors as Trailers-Only with their status and ErrorDetail
 * (decoded here with protobufjs), unknown methods as UNIMPLEMENTED, on the fast
 * route and on connect-node's paths (GatewayService, SessionService).
 *
 * `.ci/run` installs python3-grpcio; with CI=true a missing grpcio fails the
 * test, elsewhere it is skipped with a message, as the PostgreSQL tests are.
 */
import { spawn, spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CheckSaleRequestSchema } from "../gen/toptechpay/gateway/v1/gateway_pb.js";
import { SaleRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { decodeStatusDetails } from "./support/grpc-js-client.js";
import { startTestServer, TEST_SERIAL, type TestServer } from "./support/test-server.js";

const PYTHON = "/usr/bin/python3";
const SCRIPT = resolve(import.meta.dirname, "support/grpcio-calls.py");
const API_KEY = "grpcio-api-key-0123456789abcdef";
const HAS_GRPCIO = spawnSync(PYTHON, ["-c", "import grpc"]).status === 0;
if (!HAS_GRPCIO && process.env.CI !== "true") {
  console.warn("python3-grpcio is not installed: skipping the grpcio tests (apt-get install python3-grpcio)");
}
const grpcioIt = HAS_GRPCIO || process.env.CI === "true" ? it : it.skip;

interface Call {
  path: string;
  bytes: Uint8Array;
  metadata?: [string, string][];
}
interface Result {
  code: string;
  details: string | null;
  detailsBin: string | null;
  answer: string | null;
}

/** Runs the calls in a Python process (asynchronously: the server under test runs in this process). */
function grpcio(port: number, calls: Call[]): Promise<Result[]> {
  const input = JSON.stringify({
    target: `127.0.0.1:${port}`,
    calls: calls.map((c) => ({ path: c.path, hex: Buffer.from(c.bytes).toString("hex"), metadata: c.metadata ?? [] })),
  });
  return new Promise((done, fail) => {
    const child = spawn(PYTHON, [SCRIPT], { timeout: 30_000 });
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done(JSON.parse(out) as Result[]) : fail(new Error(`grpcio: ${err}`))));
    child.stdin.end(input);
  });
}

function detailOf(r: Result) {
  const { details } = decodeStatusDetails(r.detailsBin ? Buffer.from(r.detailsBin, "hex") : undefined);
  return details[0];
}

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
});
afterAll(() => s?.close());

describe("Python grpcio, a stock client", () => {
  grpcioIt("reads a success and every kind of error, with its status and ErrorDetail", async () => {
    const sale = (serialNumber: string, amountCentis: bigint) =>
      toBinary(
        SaleRequestSchema,
        create(SaleRequestSchema, {
          consumer: { device: { serialNumber } },
          session: { accessToken: s.accessToken },
          transaction: { amountCentis, currency: "EUR" },
        }),
      );
    const check = toBinary(CheckSaleRequestSchema, create(CheckSaleRequestSchema, { invoiceId: "no-such-invoice" }));
    const [ok, badBytes, missing, unknownToken, range, checkRefused, noKey, unknownMethod, unknownService] =
      await grpcio(s.port, [
        { path: "/toptechpay.initiate.v1.InitiateService/Sale", bytes: sale(TEST_SERIAL, 1015n) },
        { path: "/toptechpay.initiate.v1.InitiateService/Sale", bytes: Buffer.from([0xff, 0xff, 0xff]) },
        { path: "/toptechpay.initiate.v1.InitiateService/Sale", bytes: new Uint8Array(0) },
        { path: "/toptechpay.initiate.v1.InitiateService/Sale", bytes: sale("SN-OTHER-DEVICE", 1015n) },
        { path: "/toptechpay.initiate.v1.InitiateService/Sale", bytes: sale(TEST_SERIAL, 0n) },
        { path: "/toptechpay.gateway.v1.GatewayService/CheckSale", bytes: check },
        { path: "/toptechpay.session.v1.SessionService/ListSessions", bytes: new Uint8Array(0) },
        { path: "/toptechpay.initiate.v1.InitiateService/Nope", bytes: new Uint8Array(0) },
        { path: "/no.such.Service/Call", bytes: new Uint8Array(0) },
      ]);
    expect(ok?.code).toBe("OK");
    expect(ok?.answer).toMatch(/^[0-9a-f]+$/);
    const expected: [Result | undefined, string, string][] = [
      [badBytes, "INVALID_ARGUMENT", "BODY_NOT_PROTOBUF"],
      [missing, "INVALID_ARGUMENT", "FIELD_REQUIRED"],
      [unknownToken, "UNAUTHENTICATED", "ACCESS_TOKEN_INVALID"],
      [range, "INVALID_ARGUMENT", "FIELD_RANGE"],
      [checkRefused, "INVALID_ARGUMENT", "FIELD_REQUIRED"],
      [noKey, "UNAUTHENTICATED", "API_KEY_INVALID"],
      [unknownMethod, "UNIMPLEMENTED", "ROUTE_NOT_FOUND"],
      [unknownService, "UNIMPLEMENTED", "ROUTE_NOT_FOUND"],
    ];
    for (const [result, code, catalogueCode] of expected) {
      expect({ code: result?.code, detail: result && detailOf(result)?.code }).toEqual({ code, detail: catalogueCode });
      expect(result?.details).toBe(result && detailOf(result)?.message);
    }
  });

  grpcioIt("reads GatewayService's refusal of an unknown invoice as NOT_FOUND", async () => {
    const body = create(CheckSaleRequestSchema, {
      invoiceId: "01a23bfa-68d9-70eb-b45b-7ff95c391ae4",
      consumer: { device: { serialNumber: TEST_SERIAL } },
      session: {
        accessToken: s.accessToken,
        nonce: "n".repeat(43),
        signature: "A".repeat(40),
        token: "ttp-session-0001",
      },
    });
    const [result] = await grpcio(s.port, [
      { path: "/toptechpay.gateway.v1.GatewayService/CheckSale", bytes: toBinary(CheckSaleRequestSchema, body) },
    ]);
    expect({ code: result?.code, detail: result && detailOf(result) }).toMatchObject({
      code: "NOT_FOUND",
      detail: { cause: "INVALID_REQUEST", code: "SESSION_NOT_FOUND" },
    });
  });
});
