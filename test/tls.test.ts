/**
 * TLS on the one port: a self-signed certificate made at test time with the
 * openssl CLI; h2 and http/1.1 are both served, chosen by ALPN.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import * as tls from "node:tls";
import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InitiateService, SaleRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { EMPTY_SETTINGS, PREFACE, serverLetsGo } from "./support/h2-frames.js";
import { type Answer, expectSignedAnswer, saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let certDir: string;
let ca: Buffer;
let s: TestServer;
/** Short limits, to show each is applied over TLS. */
let strict: TestServer;

beforeAll(async () => {
  certDir = mkdtempSync(join(tmpdir(), "cp-tls-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(certDir, "key.pem"),
      "-out",
      join(certDir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ],
    { stdio: "pipe" },
  );
  ca = readFileSync(join(certDir, "cert.pem"));
  const tlsFiles = { cert: join(certDir, "cert.pem"), key: join(certDir, "key.pem") };
  s = await startTestServer({ config: { server: { tls: tlsFiles } } });
  strict = await startTestServer({
    config: {
      server: { tls: tlsFiles },
      limits: { headersTimeoutMs: 400, keepAliveTimeoutMs: 300, maxHeaderBytes: 2048, http2HeadersTimeoutMs: 300 },
    },
  });
});
afterAll(async () => {
  await s?.close();
  await strict?.close();
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

describe("TLS", () => {
  it("listens on https", () => {
    expect(s.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it("serves h2 by ALPN", async () => {
    const session = http2.connect(s.url, { ca });
    try {
      await new Promise<void>((resolve, reject) => {
        session.once("connect", () => resolve());
        session.once("error", reject);
      });
      expect(session.alpnProtocol).toBe("h2");
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": "/sale/initiate-sale",
          "content-type": "application/json",
        });
        let status = 0;
        let body = "";
        stream.setEncoding("utf8");
        stream.on("response", (h) => {
          status = Number(h[":status"]);
        });
        stream.on("data", (c: string) => {
          body += c;
        });
        stream.on("end", () => resolve({ status, body }));
        stream.on("error", reject);
        stream.end(JSON.stringify(saleBody(s.accessToken)));
      });
      expect(status).toBe(200);
      expectSignedAnswer(JSON.parse(body) as Answer, {
        accessToken: s.accessToken,
        amountCentis: 1015,
        currency: "EUR",
      });
    } finally {
      session.close();
    }
  });

  it("serves http/1.1 by ALPN on the same port", async () => {
    const { status, body, alpn, httpVersion } = await new Promise<{
      status: number;
      body: string;
      alpn: string | false | null;
      httpVersion: string;
    }>((resolve, reject) => {
      // ALPNProtocols is passed on to tls.connect; @types/node leaves it out here.
      const options: https.RequestOptions & { ALPNProtocols: string[] } = {
        method: "POST",
        ca,
        ALPNProtocols: ["http/1.1"],
        headers: { "content-type": "application/json" },
        agent: false,
      };
      const req = https.request(`${s.url}/verification/initiate-verification`, options, (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            body: text,
            alpn: (res.socket as TLSSocket).alpnProtocol,
            httpVersion: res.httpVersion,
          }),
        );
      });
      req.on("error", reject);
      req.end(
        JSON.stringify({
          consumer: { device: { serialNumber: "SN-000001" } },
          session: { accessToken: s.accessToken },
          transaction: { currency: "EUR" },
        }),
      );
    });
    expect(alpn).toBe("http/1.1");
    expect(httpVersion).toBe("1.1");
    expect(status).toBe(200);
    expectSignedAnswer(JSON.parse(body) as Answer, { accessToken: s.accessToken, currency: "EUR" });
  });

  it("answers bytes that are not HTTP/1.1 with the documented 400 body, over TLS too", async () => {
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect(
        {
          host: "127.0.0.1",
          port: Number(new URL(s.url).port),
          ca,
          ALPNProtocols: ["http/1.1"],
          servername: "localhost",
        },
        () => socket.write("NOT HTTP AT ALL\r\n\r\n"),
      );
      let text = "";
      socket.setEncoding("utf8");
      socket.on("data", (c: string) => {
        text += c;
      });
      socket.on("end", () => resolve(text));
      socket.on("error", reject);
    });
    expect(raw).toMatch(/^HTTP\/1\.1 400 /);
    expect(raw).toContain('"code":"HTTP_MALFORMED"');
  });

  it("refuses a client that does not trust the certificate", async () => {
    const session = http2.connect(s.url);
    const error = await new Promise<Error>((resolve) => session.once("error", resolve));
    expect((error as NodeJS.ErrnoException).code).toMatch(/SELF_SIGNED|UNABLE_TO_VERIFY|DEPTH_ZERO/);
    session.destroy();
  });

  it("serves gRPC over TLS", async () => {
    const client = createClient(InitiateService, createGrpcTransport({ baseUrl: s.url, nodeOptions: { ca } }));
    const answer = await client.sale(fromJson(SaleRequestSchema, saleBody(s.accessToken) as JsonObject));
    expectSignedAnswer(answer as never, { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
  });
});

/** A TLS connection choosing `alpn`; writes `text` and resolves with what came back and when the server ended it. */
function tlsExchange(
  server: TestServer,
  alpn: string,
  text: string | Buffer,
): Promise<{ socket: tls.TLSSocket; answer: Promise<{ text: string; ms: number }> }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: "127.0.0.1", port: server.port, ca, ALPNProtocols: [alpn], servername: "localhost" },
      () => {
        const started = Date.now();
        let out = "";
        socket.setEncoding("latin1");
        socket.on("data", (c: string) => {
          out += c;
        });
        const answer = new Promise<{ text: string; ms: number }>((done) =>
          socket.once("end", () => done({ text: out, ms: Date.now() - started })),
        );
        socket.write(text);
        resolve({ socket, answer });
      },
    );
    socket.on("error", reject);
  });
}

describe("TLS applies the same limits as plain text", () => {
  it("HTTP/1.1: headers slower than limits.headersTimeoutMs get 408 REQUEST_TIMEOUT", async () => {
    const { answer } = await tlsExchange(strict, "http/1.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    const { text } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 408 /);
    expect(text).toContain('"code":"REQUEST_TIMEOUT"');
  });

  it("HTTP/1.1: headers over limits.maxHeaderBytes get 431 HEADERS_TOO_LARGE", async () => {
    const { answer } = await tlsExchange(
      strict,
      "http/1.1",
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(4096)}\r\n\r\n`,
    );
    const { text } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 431 /);
    expect(text).toContain('"code":"HEADERS_TOO_LARGE"');
  });

  it("HTTP/1.1: an idle keep-alive connection is closed after limits.keepAliveTimeoutMs", async () => {
    const { answer } = await tlsExchange(strict, "http/1.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const { text, ms } = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200 /);
    expect(text).toMatch(/keep-alive/i);
    // Closed by the server, not after the headers timeout nor never.
    expect(ms).toBeLessThan(4000);
  });

  it("HTTP/2: a connection that sends only the preface is closed after limits.http2HeadersTimeoutMs", async () => {
    const { socket } = await tlsExchange(strict, "h2", Buffer.concat([PREFACE, EMPTY_SETTINGS]));
    expect(socket.alpnProtocol).toBe("h2");
    expect(await serverLetsGo(strict.port, socket.localPort as number, 4000)).not.toBe("open");
  });
});
