/**
 * Requests node:http (and node:http2) refuses before any route would see them:
 * bytes that are not HTTP, headers over the limit, headers too slow, an
 * HTTP/1.1 request without Host, an Expect other than 100-continue. Each is
 * sent over a raw TCP socket (the clients in the other tests cannot send
 * these) and must get the status line, an x-request-id (a fresh UUID), the
 * documented error body with its catalogue code, a log line and a count.
 */
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERROR_CATALOGUE, type ErrorCode } from "../src/core/error-catalogue.js";
import { UUID } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { limits: { headersTimeoutMs: 500 } } });
});
afterAll(async () => s?.close());

interface RawAnswer {
  statusLine: string;
  headers: Record<string, string>;
  body: string;
  /** True when the server closed the connection after the answer. */
  closed: boolean;
  /** True when an interim "100 Continue" came first. */
  continued: boolean;
}

/**
 * Writes `chunks` to a fresh connection (a pause of `pauseMs` after each) and
 * reads until the server closes it or one whole answer has arrived.
 */
function raw(chunks: (string | Buffer)[], pauseMs = 0): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(s.port, "127.0.0.1");
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      let text = data.toString("latin1");
      const continued = text.startsWith("HTTP/1.1 100 ");
      if (continued) text = text.slice(text.indexOf("\r\n\r\n") + 4);
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) {
        if (closed) reject(new Error(`connection closed without an answer: ${JSON.stringify(text)}`));
        return;
      }
      const [statusLine = "", ...lines] = text.slice(0, end).split("\r\n");
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(":");
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const body = Buffer.from(text.slice(end + 4), "latin1").toString("utf8");
      const length = Number(headers["content-length"]);
      if (!closed && !(Buffer.byteLength(body) >= length)) return;
      done = true;
      socket.destroy();
      resolve({ statusLine, headers, body, closed, continued });
    };
    socket.on("data", (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      // Wait briefly for the close that follows a "connection: close" answer.
      setTimeout(() => finish(false), 200);
    });
    socket.on("close", () => finish(true));
    socket.on("error", (e) => (done ? undefined : reject(e)));
    socket.on("connect", async () => {
      for (const chunk of chunks) {
        socket.write(chunk);
        if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
      }
    });
  });
}

/** Checks the documented refusal and returns its request id. */
async function expectRefusal(answer: RawAnswer, code: ErrorCode, reason: string): Promise<string> {
  const { httpStatus, cause } = ERROR_CATALOGUE[code];
  expect(answer.statusLine).toBe(`HTTP/1.1 ${httpStatus} ${reason}`);
  expect(answer.headers["content-type"]).toMatch(/^application\/json/);
  const id = answer.headers["x-request-id"] as string;
  expect(id).toMatch(UUID);
  const body = JSON.parse(answer.body) as { error: Record<string, string> };
  expect(Object.keys(body)).toEqual(["error"]);
  expect(Object.keys(body.error).sort()).toEqual(["cause", "code", "message"]);
  expect(body.error).toMatchObject({ cause, code });
  // Logged under the same id, with the code.
  await expect.poll(() => s.logLines.find((l) => l.requestId === id)).toMatchObject({ code, status: httpStatus });
  return id;
}

async function countOf(code: string): Promise<number> {
  const text = await (await fetch(`${s.url}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("cp_requests_total{") && line.includes(`code="${code}"`))
      total += Number(line.split(" ").pop());
  }
  return total;
}

const SALE_HEAD = "POST /sale/initiate-sale HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 2\r\n";

describe("parser refusals over HTTP/1.1 (raw sockets)", () => {
  it("answers bytes that are not HTTP with 400 HTTP_MALFORMED, an x-request-id and the error body", async () => {
    const before = await countOf("HTTP_MALFORMED");
    const answer = await raw(["GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n"]);
    await expectRefusal(answer, "HTTP_MALFORMED", "Bad Request");
    expect(answer.closed).toBe(true);
    expect(await countOf("HTTP_MALFORMED")).toBe(before + 1);
  });

  it("answers headers over limits.maxHeaderBytes with 431 HEADERS_TOO_LARGE", async () => {
    const before = await countOf("HEADERS_TOO_LARGE");
    const answer = await raw([`GET /healthz HTTP/1.1\r\nHost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`]);
    await expectRefusal(answer, "HEADERS_TOO_LARGE", "Request Header Fields Too Large");
    expect(await countOf("HEADERS_TOO_LARGE")).toBe(before + 1);
  });

  it("answers headers that do not arrive in time with 408 REQUEST_TIMEOUT", async () => {
    const answer = await raw(["GET /healthz HTTP/1.1\r\nHost: x\r\n"]);
    await expectRefusal(answer, "REQUEST_TIMEOUT", "Request Timeout");
    expect(answer.closed).toBe(true);
  });

  it("answers an HTTP/1.1 request without Host with 400 HOST_MISSING and closes", async () => {
    const before = await countOf("HOST_MISSING");
    const answer = await raw([`${SALE_HEAD}\r\n{}`]);
    await expectRefusal(answer, "HOST_MISSING", "Bad Request");
    expect(answer.headers.connection).toBe("close");
    expect(answer.closed).toBe(true);
    expect(await countOf("HOST_MISSING")).toBe(before + 1);
  });

  it("still serves HTTP/1.0 without Host (Host is required from 1.1 on)", async () => {
    const answer = await raw(["GET /healthz HTTP/1.0\r\n\r\n"]);
    expect(answer.statusLine).toMatch(/^HTTP\/1\.1 200 /);
    expect(answer.headers["x-request-id"]).toMatch(UUID);
  });

  it("answers an unknown Expect with 417 EXPECTATION_FAILED", async () => {
    const before = await countOf("EXPECTATION_FAILED");
    const answer = await raw([`${SALE_HEAD}Host: x\r\nExpect: 200-ok\r\n\r\n{}`]);
    await expectRefusal(answer, "EXPECTATION_FAILED", "Expectation Failed");
    expect(await countOf("EXPECTATION_FAILED")).toBe(before + 1);
  });

  it("keeps serving Expect: 100-continue (a 100 then the answer)", async () => {
    const answer = await raw([`${SALE_HEAD}Host: x\r\nExpect: 100-continue\r\n\r\n`, "{}"], 100);
    expect(answer.continued).toBe(true);
    expect(answer.statusLine).toBe("HTTP/1.1 400 Bad Request");
    expect(JSON.parse(answer.body).error.code).toBe("FIELD_REQUIRED");
  });
});

describe("parser refusals over HTTP/2", () => {
  it("answers an unknown Expect with 417 EXPECTATION_FAILED, x-request-id and the body", async () => {
    const session = http2.connect(s.url);
    try {
      const { status, id, text } = await new Promise<{ status: number; id: unknown; text: string }>(
        (resolve, reject) => {
          const req = session.request({
            ":method": "POST",
            ":path": "/sale/initiate-sale",
            "content-type": "application/json",
            expect: "200-ok",
          });
          let head: http2.IncomingHttpHeaders = {};
          const chunks: Buffer[] = [];
          req.on("response", (h) => {
            head = h;
          });
          req.on("data", (c: Buffer) => chunks.push(c));
          req.on("end", () =>
            resolve({
              status: Number(head[":status"]),
              id: head["x-request-id"],
              text: Buffer.concat(chunks).toString(),
            }),
          );
          req.on("error", reject);
          req.end("{}");
        },
      );
      expect(status).toBe(417);
      expect(id).toMatch(UUID);
      expect(JSON.parse(text).error).toMatchObject({ cause: "INVALID_REQUEST", code: "EXPECTATION_FAILED" });
    } finally {
      session.close();
    }
  });
});
