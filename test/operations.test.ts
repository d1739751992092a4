/**
 * Operations on a real in-process server: /healthz, /readyz (also 503 when the
 * store is gone and while draining), grpc.health.v1 over gRPC, /metrics
 * counts after real traffic, the in-flight cap (OVERLOADED at once, on JSON,
 * gRPC and Connect) and the server-side deadline on the JSON paths.
 *
 * Slow requests are made with real, unfinished request bodies: the server has
 * admitted the request and waits for the rest, without blocking anything.
 */
import * as http from "node:http";
import * as net from "node:net";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterEach, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as Status } from "../gen/grpc/health/v1/health_pb.js";
import { ErrorDetailSchema, InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});

async function start(config?: Record<string, unknown>): Promise<TestServer> {
  const s = await startTestServer(config ? { config } : {});
  servers.push(s);
  return s;
}

function postSale(s: TestServer, body: unknown = saleBody(s.accessToken)) {
  return fetch(`${s.url}/sale/initiate-sale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** A sale whose body is sent only in part: the server admits it and waits for the rest. */
function slowSale(s: TestServer): { finish(): void; answer: Promise<{ status: number; body: string }> } {
  const text = JSON.stringify(saleBody(s.accessToken));
  const req = http.request(`${s.url}/sale/initiate-sale`, {
    method: "POST",
    agent: false,
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(text) },
  });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
  req.write(text.slice(0, 10));
  return { finish: () => req.end(text.slice(10)), answer };
}

/** Reads one sample of the Prometheus text, 0 when the series is absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (ok) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return 0;
}

async function scrape(s: TestServer): Promise<string> {
  const res = await fetch(`${s.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  return res.text();
}

/** Waits until the server reports `n` requests in flight (read from /metrics, which is exempt). */
async function untilInFlight(s: TestServer, n: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (sample(await scrape(s), "cp_requests_in_flight") === n) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`never reached ${n} requests in flight`);
}

describe("health", () => {
  it("GET /healthz and /readyz answer 200; other methods get 405 with Allow", async () => {
    const s = await start();
    const live = await fetch(`${s.url}/healthz`);
    expect(live.status).toBe(200);
    expect(await live.json()).toEqual({ status: "alive" });
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
    const post = await fetch(`${s.url}/readyz`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe("METHOD_NOT_ALLOWED");
  });

  it("grpc.health.v1 Check over gRPC: SERVING for the server and its services, NOT_FOUND otherwise", async () => {
    const s = await start();
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    expect((await health.check({ service: "" })).status).toBe(Status.SERVING);
    expect((await health.check({ service: "toptechpay.initiate.v1.InitiateService" })).status).toBe(Status.SERVING);
    const unknown = await health.check({ service: "no.such.Service" }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ConnectError);
    expect((unknown as ConnectError).code).toBe(Code.NotFound);
    const list = await health.list({});
    expect(list.statuses["toptechpay.initiate.v1.InitiateService"]?.status).toBe(Status.SERVING);
  });

  it("turns NOT_SERVING and /readyz 503 when the store is gone", async () => {
    const s = await start();
    await s.server.store.close();
    const ready = await fetch(`${s.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE", code: "STORE_UNAVAILABLE" } });
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    expect((await health.check({})).status).toBe(Status.NOT_SERVING);
    // Alive all the same: the process is fine, it just cannot take traffic.
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it("while draining: /readyz 503 SHUTTING_DOWN, Watch sends NOT_SERVING and ends, accepted requests finish", async () => {
    const s = await start();
    const health = createClient(Health, createGrpcTransport({ baseUrl: s.url }));
    const watch = health.watch({ service: "" })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(Status.SERVING);

    const slow = slowSale(s);
    await untilInFlight(s, 1);
    // A connection made before the shutdown that has not sent its request yet.
    const early = net.connect(s.port, "127.0.0.1");
    await new Promise((r) => early.once("connect", r));

    const closing = s.server.close(10_000);
    expect((await watch.next()).value?.status).toBe(Status.NOT_SERVING);
    expect((await watch.next()).done).toBe(true);

    early.write("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
    let raw = "";
    early.setEncoding("utf8");
    await new Promise<void>((resolve) => {
      early.on("data", (d: string) => {
        raw += d;
        if (raw.includes("}")) resolve();
      });
    });
    expect(raw).toMatch(/^HTTP\/1\.1 503 /);
    expect(raw).toMatch(/retry-after: 1/i);
    expect(raw).toContain('"code":"SHUTTING_DOWN"');
    early.destroy();

    // The request accepted before the shutdown still gets its whole answer.
    slow.finish();
    const answer = await slow.answer;
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ endpointId: "1111" });
    await closing;
  });
});

describe("metrics", () => {
  it("counts requests by operation, protocol and outcome, store calls, tokens and in-flight", async () => {
    const s = await start();
    const before = await scrape(s);
    const tokensBefore = sample(before, "cp_access_tokens_issued_total");
    const token = await s.issueToken();
    for (let i = 0; i < 3; i++) expect((await postSale(s, saleBody(token))).status).toBe(200);
    const bad = saleBody(token) as { transaction: Record<string, unknown> };
    delete bad.transaction.currency;
    for (let i = 0; i < 2; i++) expect((await postSale(s, bad)).status).toBe(400);
    const grpc = createClient(InitiateService, createGrpcTransport({ baseUrl: s.url }));
    await grpc.sale(saleBody(token));
    const connect = createClient(InitiateService, createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }));
    await connect.verification({
      consumer: { device: { serialNumber: "SN-000001" } },
      session: { accessToken: token },
      transaction: { currency: "USD" },
    });

    const text = await scrape(s);
    const requests = (labels: Record<string, string>) => sample(text, "cp_requests_total", labels);
    expect(requests({ operation: "sale", protocol: "json", outcome: "ok" })).toBe(3);
    expect(
      requests({
        operation: "sale",
        protocol: "json",
        outcome: "error",
        cause: "INVALID_REQUEST",
        code: "FIELD_REQUIRED",
      }),
    ).toBe(2);
    expect(requests({ operation: "sale", protocol: "grpc", outcome: "ok" })).toBe(1);
    expect(requests({ operation: "verification", protocol: "connect", outcome: "ok" })).toBe(1);
    expect(
      sample(text, "cp_request_duration_seconds_count", { operation: "sale", protocol: "json", outcome: "ok" }),
    ).toBe(3);
    // Five sessions committed (3 JSON, 1 gRPC, 1 Connect), each insert timed.
    expect(sample(text, "cp_store_duration_seconds_count", { method: "insertSession", outcome: "ok" })).toBe(5);
    expect(sample(text, "cp_access_tokens_issued_total") - tokensBefore).toBe(1);
    expect(sample(text, "cp_requests_in_flight")).toBe(0);
    expect(text).toContain("process_resident_memory_bytes");
    expect(text).toContain("nodejs_eventloop_lag_seconds");
  });
});

describe("overload and deadlines", () => {
  it("past limits.maxInFlight, new requests get 503 OVERLOADED with Retry-After at once, on every protocol", async () => {
    const s = await start({ limits: { maxInFlight: 2 } });
    const held = [slowSale(s), slowSale(s)];
    await untilInFlight(s, 2);

    const refused = await postSale(s);
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await refused.json()).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE", code: "OVERLOADED" } });

    for (const transport of [
      createGrpcTransport({ baseUrl: s.url }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }),
    ]) {
      const e = await createClient(InitiateService, transport)
        .sale(saleBody(s.accessToken))
        .catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ConnectError);
      expect((e as ConnectError).code).toBe(Code.Unavailable);
      expect((e as ConnectError).findDetails(ErrorDetailSchema)[0]).toMatchObject({
        cause: "SERVER_UNAVAILABLE",
        code: "OVERLOADED",
      });
    }
    // Probes are never refused.
    expect((await fetch(`${s.url}/readyz`)).status).toBe(200);

    for (const h of held) h.finish();
    for (const h of held) expect((await h.answer).status).toBe(200);
    await untilInFlight(s, 0);
    expect((await postSale(s)).status).toBe(200);
    const text = await scrape(s);
    expect(sample(text, "cp_requests_total", { code: "OVERLOADED", protocol: "json" })).toBe(1);
    expect(sample(text, "cp_requests_total", { code: "OVERLOADED", protocol: "grpc" })).toBe(1);
  });

  it("a JSON request whose body is still arriving at limits.requestTimeoutMs gets 408 REQUEST_TIMEOUT", async () => {
    const s = await start({ limits: { requestTimeoutMs: 300 } });
    const slow = slowSale(s);
    const answer = await slow.answer;
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({
      error: { cause: "INVALID_REQUEST", code: "REQUEST_TIMEOUT" },
    });
  });

  it("headers over limits.maxHeaderBytes get 431 HEADERS_TOO_LARGE with the error body", async () => {
    const s = await start({ limits: { maxHeaderBytes: 2048 } });
    const raw = await rawExchange(s.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4096)}\r\n\r\n`);
    expect(raw).toMatch(/^HTTP\/1\.1 431 /);
    expect(raw).toContain('"code":"HEADERS_TOO_LARGE"');
    // Under the limit, the same request is served.
    expect(await rawExchange(s.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).toMatch(
      /^HTTP\/1\.1 200 /,
    );
  });

  it("headers slower than limits.headersTimeoutMs get 408 REQUEST_TIMEOUT with the error body", async () => {
    const s = await start({ limits: { headersTimeoutMs: 500 } });
    // The request line arrives, the end of the headers never does.
    const raw = await rawExchange(s.port, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    expect(raw).toMatch(/^HTTP\/1\.1 408 /);
    expect(raw).toContain('"code":"REQUEST_TIMEOUT"');
  });
});

/** Writes raw bytes on a new connection and returns everything read until the server closes it. */
function rawExchange(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      out += d;
    });
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
  });
}
