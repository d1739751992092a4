/**
 * Every answer carries `x-request-id`, whoever writes it: the JSON paths, the
 * probes and metrics, open issuance, the lean gRPC and Connect paths, connect
 * itself (health, other services), refusals and 404s; over HTTP/1.1 and
 * HTTP/2. The listener does not set the header up front (see requestIdOf), so
 * each writer must, and this test finds any that does not.
 */
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaleRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { SERIAL, saleBody, UUID } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { openIssuance: true } } });
});
afterAll(async () => s?.close());

const SALE_RPC = "/toptechpay.initiate.v1.InitiateService/Sale";
const JSON_TYPE = { "content-type": "application/json" };

/** One HTTP/2 request; resolves with the response headers and status. */
function h2(path: string, headers: http2.OutgoingHttpHeaders, body?: Uint8Array | string) {
  return new Promise<{ status: number; id: unknown }>((resolve, reject) => {
    const session = http2.connect(s.url);
    session.on("error", reject);
    const req = session.request({ ":method": body === undefined ? "GET" : "POST", ":path": path, ...headers });
    req.on("response", (h) => resolve({ status: Number(h[":status"]), id: h["x-request-id"] }));
    req.on("error", reject);
    req.resume();
    req.on("close", () => session.close());
    req.end(body);
  });
}

function grpcSale(accessToken: string): Uint8Array {
  const message = create(SaleRequestSchema, {
    consumer: { device: { serialNumber: SERIAL } },
    session: { accessToken },
    transaction: { amountCentis: 1000n, currency: "EUR" },
  });
  return encodeEnvelope(0, toBinary(SaleRequestSchema, message));
}

describe("x-request-id", () => {
  it("is on every kind of HTTP/1.1 answer, with the request's log line under the same id", async () => {
    const sale = JSON.stringify(saleBody(s.accessToken));
    const cases: [string, string, RequestInit, number][] = [
      ["JSON sale", "/sale/initiate-sale", { method: "POST", headers: JSON_TYPE, body: sale }, 200],
      ["JSON error", "/sale/initiate-sale", { method: "POST", headers: JSON_TYPE, body: "[]" }, 400],
      ["unknown path", "/nowhere", {}, 404],
      ["liveness", "/healthz", {}, 200],
      ["readiness", "/readyz", {}, 200],
      ["metrics", "/metrics", {}, 200],
      ["ops wrong method", "/metrics", { method: "DELETE" }, 405],
      [
        "open issuance",
        "/auth/access-token",
        {
          method: "POST",
          headers: JSON_TYPE,
          body: JSON.stringify({ consumer: { device: { serialNumber: SERIAL } } }),
        },
        200,
      ],
      ["Connect lean path", SALE_RPC, { method: "POST", headers: JSON_TYPE, body: sale }, 200],
      ["Connect lean error", SALE_RPC, { method: "POST", headers: JSON_TYPE, body: "{}" }, 400],
      [
        "connect itself (health)",
        "/grpc.health.v1.Health/Check",
        { method: "POST", headers: JSON_TYPE, body: "{}" },
        200,
      ],
    ];
    for (const [name, path, init, status] of cases) {
      const res = await fetch(`${s.url}${path}`, init);
      await res.arrayBuffer();
      expect(res.status, name).toBe(status);
      const id = res.headers.get("x-request-id");
      expect(id, name).toMatch(UUID);
      expect(await s.logLineFor(id as string), name).toMatchObject({ requestId: id, status });
    }
  });

  it("is on HTTP/2 answers: gRPC (success and trailers-only error), JSON and connect's own", async () => {
    const grpc = { "content-type": "application/grpc", te: "trailers" };
    const cases: [string, Promise<{ status: number; id: unknown }>][] = [
      ["gRPC sale", h2(SALE_RPC, grpc, grpcSale(s.accessToken))],
      ["gRPC bad token", h2(SALE_RPC, grpc, grpcSale("x".repeat(64)))],
      ["gRPC-Web through connect", h2(SALE_RPC, { "content-type": "application/grpc-web+proto" }, grpcSale("y"))],
      ["JSON sale", h2("/sale/initiate-sale", JSON_TYPE, JSON.stringify(saleBody(s.accessToken)))],
      ["probe", h2("/readyz", {})],
    ];
    for (const [name, answer] of cases) {
      const { status, id } = await answer;
      expect(status, name).toBe(200);
      expect(id, name).toMatch(UUID);
      expect(await s.logLineFor(id as string), name).toMatchObject({ requestId: id });
    }
  });

  it("echoes a caller's own safe id on the lean gRPC path", async () => {
    const { id } = await h2(
      SALE_RPC,
      { "content-type": "application/grpc", te: "trailers", "x-request-id": "trace-42" },
      grpcSale(s.accessToken),
    );
    expect(id).toBe("trace-42");
  });
});
