/**
 * Content-Encoding on the JSON paths, over real HTTP/1.1 and HTTP/2: gzip and
 * br bodies are decoded and served; the decoded size is held to
 * limits.maxBodyBytes (a small "zip bomb" is refused with 413, and the server
 * keeps serving); a body that is not what its label says gets 400; every other
 * coding gets 415 ENCODING_UNSUPPORTED before the body is read, and nothing is
 * stored.
 */
import { randomBytes } from "node:crypto";
import * as http from "node:http";
import * as http2 from "node:http2";
import { brotliCompressSync, constants, deflateSync, gzipSync } from "node:zlib";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, expectSignedAnswer, saleBody, UUID, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const SALE = "/sale/initiate-sale";
const VERIFICATION = "/verification/initiate-verification";
const LIMIT = 8 * 1024;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { limits: { maxBodyBytes: LIMIT }, auth: { openIssuance: true } } });
});
afterAll(async () => s?.close());

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One HTTP/1.1 POST with node:http (no automatic compression, bytes exactly as given). */
function post1(path: string, body: Uint8Array, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${s.url}${path}`,
      { method: "POST", headers: { "content-type": "application/json", ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** One HTTP/2 POST (prior knowledge) on a fresh session. */
function post2(path: string, body: Uint8Array, headers: Record<string, string>): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(s.url);
    session.on("error", reject);
    const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/json", ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    req.on("response", (h) => {
      head = h;
    });
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      session.close();
      resolve({ status: Number(head[":status"]), headers: head, text: Buffer.concat(chunks).toString() });
    });
    req.on("error", reject);
    req.end(body);
  });
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

/** Checks the documented error answer and returns its error object. */
function expectError(reply: Reply, status: number, code: string) {
  expect(reply.status, reply.text).toBe(status);
  expect(reply.headers["x-request-id"]).toMatch(UUID);
  const body = JSON.parse(reply.text) as { error: { cause: string; code: string; message: string } };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["cause", "code", "message"]);
  expect(body.error.code).toBe(code);
  expect(body.error.cause).toBe("INVALID_REQUEST");
  return body.error;
}

function sessionCount(): number {
  const db = new Database(s.sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return Number(db.prepare("SELECT count(*) FROM sessions").pluck().get());
  } finally {
    db.close();
  }
}

for (const [transport, post] of [
  ["HTTP/1.1", post1],
  ["HTTP/2", post2],
] as const) {
  describe(`JSON paths, Content-Encoding, ${transport}`, () => {
    const encoders: [string, (b: Buffer) => Buffer][] = [
      ["gzip", (b) => gzipSync(b)],
      ["br", (b) => brotliCompressSync(b)],
      ["x-gzip", (b) => gzipSync(b)],
      ["GZip", (b) => gzipSync(b)],
      ["identity", (b) => b],
    ];
    for (const [coding, encode] of encoders) {
      it(`serves a sale sent with Content-Encoding: ${coding}`, async () => {
        const reply = await post(SALE, encode(json(saleBody(s.accessToken))), { "content-encoding": coding });
        expect(reply.status, reply.text).toBe(200);
        expectSignedAnswer(JSON.parse(reply.text) as Answer, {
          accessToken: s.accessToken,
          amountCentis: 1015,
          currency: "EUR",
        });
      });
    }

    it("serves a verification sent with br", async () => {
      const reply = await post(VERIFICATION, brotliCompressSync(json(verificationBody(s.accessToken))), {
        "content-encoding": "br",
      });
      expect(reply.status, reply.text).toBe(200);
    });

    it("decodes gzip on open issuance too (it reads its body the same way)", async () => {
      const body = gzipSync(json({ consumer: { device: { serialNumber: "SN-GZIP" } } }));
      const reply = await post("/auth/access-token", body, { "content-encoding": "gzip" });
      expect(reply.status, reply.text).toBe(200);
      expect(JSON.parse(reply.text).session.accessToken).toEqual(expect.any(String));
    });

    it("refuses a plain JSON body labelled gzip with 400 BODY_ENCODING_INVALID (it is not stored)", async () => {
      const before = sessionCount();
      const reply = await post(SALE, json(saleBody(s.accessToken)), { "content-encoding": "gzip" });
      expect(expectError(reply, 400, "BODY_ENCODING_INVALID").message).toContain("gzip");
      expect(sessionCount()).toBe(before);
    });

    it("refuses a truncated gzip body and a corrupt br body with 400 BODY_ENCODING_INVALID", async () => {
      const gz = gzipSync(json(saleBody(s.accessToken)));
      expectError(
        await post(SALE, gz.subarray(0, gz.length - 9), { "content-encoding": "gzip" }),
        400,
        "BODY_ENCODING_INVALID",
      );
      const br = Buffer.from(brotliCompressSync(json(saleBody(s.accessToken))));
      br.fill(0xff, 2, 12);
      expectError(await post(SALE, br, { "content-encoding": "br" }), 400, "BODY_ENCODING_INVALID");
    });

    // Plain bodies too: a server ignoring the label would store them.
    const refused: [string, () => Buffer][] = [
      ["deflate", () => deflateSync(json(saleBody(s.accessToken)))],
      ["zstd", () => json(saleBody(s.accessToken))],
      ["compress", () => json(saleBody(s.accessToken))],
      ["gzip, br", () => brotliCompressSync(gzipSync(json(saleBody(s.accessToken))))],
      ["gzip, identity", () => gzipSync(json(saleBody(s.accessToken)))],
      ["snappy", () => json(saleBody(s.accessToken))],
    ];
    for (const [coding, bodyOf] of refused) {
      it(`refuses Content-Encoding: ${coding} with 415 ENCODING_UNSUPPORTED and Accept-Encoding`, async () => {
        const before = sessionCount();
        const reply = await post(SALE, bodyOf(), { "content-encoding": coding });
        expectError(reply, 415, "ENCODING_UNSUPPORTED");
        expect(sessionCount()).toBe(before);
        expect(reply.headers["accept-encoding"]).toBe("gzip, br");
      });
    }

    it("refuses a gzip bomb (8 MiB of zeros in ~8 KiB) with 413 BODY_TOO_LARGE, then serves a sale", async () => {
      const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024), { level: 9 });
      expect(bomb.length).toBeLessThanOrEqual(LIMIT);
      const reply = await post(SALE, bomb, { "content-encoding": "gzip" });
      expect(expectError(reply, 413, "BODY_TOO_LARGE").message).toContain("decompressed");
      const ok = await post(SALE, gzipSync(json(saleBody(s.accessToken))), { "content-encoding": "gzip" });
      expect(ok.status).toBe(200);
    });

    it("refuses a brotli bomb (64 MiB of zeros in 51 bytes) with 413 BODY_TOO_LARGE, then serves a sale", async () => {
      const bomb = brotliCompressSync(Buffer.alloc(64 * 1024 * 1024), {
        params: { [constants.BROTLI_PARAM_QUALITY]: 5, [constants.BROTLI_PARAM_LGWIN]: 24 },
      });
      expect(bomb.length).toBeLessThan(100);
      expectError(await post(SALE, bomb, { "content-encoding": "br" }), 413, "BODY_TOO_LARGE");
      const ok = await post(SALE, brotliCompressSync(json(saleBody(s.accessToken))), { "content-encoding": "br" });
      expect(ok.status).toBe(200);
    });

    it("accepts a body whose decoded size is exactly the limit, refuses one byte more", async () => {
      const padded = (size: number) => {
        const text = JSON.stringify(saleBody(s.accessToken));
        // Spaces before the closing brace are valid JSON whitespace.
        return Buffer.from(`${text.slice(0, -1)}${" ".repeat(size - text.length)}}`);
      };
      const exact = await post(SALE, gzipSync(padded(LIMIT)), { "content-encoding": "gzip" });
      expect(exact.status, exact.text).toBe(200);
      expectError(await post(SALE, gzipSync(padded(LIMIT + 1)), { "content-encoding": "gzip" }), 413, "BODY_TOO_LARGE");
    });

    it("holds the compressed body to the limit as well", async () => {
      const incompressible = gzipSync(randomBytes(LIMIT * 2), { level: 0 });
      expectError(await post(SALE, incompressible, { "content-encoding": "gzip" }), 413, "BODY_TOO_LARGE");
    });
  });
}

describe("JSON paths, Content-Encoding refusals are logged and counted", () => {
  it("logs ENCODING_UNSUPPORTED with the answer's request id", async () => {
    const before = sessionCount();
    const reply = await post1(SALE, json(saleBody(s.accessToken)), { "content-encoding": "deflate" });
    const id = reply.headers["x-request-id"] as string;
    const line = await s.logLineFor(id);
    expect(line).toMatchObject({ status: 415, outcome: "error", code: "ENCODING_UNSUPPORTED", operation: "sale" });
    expect(sessionCount()).toBe(before);
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(/cp_requests_total\{[^}]*code="ENCODING_UNSUPPORTED"[^}]*\} [1-9]/);
  });
});
