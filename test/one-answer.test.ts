/**
 * One request gets one answer, and a body that does not arrive in time gets
 * the documented 408 REQUEST_TIMEOUT: on HTTP/1.1 the connection is then
 * closed (the rest of the body would be read as a new request), on HTTP/2
 * the stream is reset after the answer.
 */
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { h2Session, openStream, TARGETS } from "./support/attacks.js";
import { saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close().catch(() => undefined);
});
async function start(limits: Record<string, unknown>): Promise<TestServer> {
  const s = await startTestServer({ config: { limits } });
  servers.push(s);
  return s;
}

/** Sends headers and part of a body on a raw HTTP/1.1 connection; resolves with all that came back once the server closes it (or after `ms`). */
function partialPost(port: number, path: string, type: string, ms: number): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    let text = "";
    let closed = false;
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      text += d;
    });
    socket.on("error", () => undefined);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed });
    }, ms);
    socket.on("close", () => {
      closed = true;
      clearTimeout(timer);
      resolve({ text, closed });
    });
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\ncontent-type: ${type}\r\ncontent-length: 500\r\n\r\n{"a":`);
  });
}

const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3} /g) ?? [];

describe("one request, one answer", () => {
  it("a request refused while the server is full gets 503 only, not 503 and then 408", async () => {
    // node:http's own request timeout used to add a 408 to the refused request once its body stalled.
    const s = await start({ maxInFlight: 1, requestTimeoutMs: 2000, headersTimeoutMs: 500 });
    const holder = partialPost(s.port, "/sale/initiate-sale", "application/json", 5000);
    await new Promise((r) => setTimeout(r, 100));
    for (const [path, type, code] of [
      ["/sale/initiate-sale", "application/json", '"code":"OVERLOADED"'],
      ["/toptechpay.initiate.v1.InitiateService/Sale", "application/json", '"code":"unavailable"'],
    ] as const) {
      const refused = await partialPost(s.port, path, type, 3500);
      expect(statusLines(refused.text)).toEqual(["HTTP/1.1 503 "]);
      expect(refused.text).toContain(code);
      expect(refused.closed).toBe(true);
    }
    const held = await holder;
    expect(statusLines(held.text)).toEqual(["HTTP/1.1 408 "]);
  });
});

describe("a body still arriving at the deadline", () => {
  it("JSON path over HTTP/1.1: 408 REQUEST_TIMEOUT, then the connection closes", async () => {
    const s = await start({ requestTimeoutMs: 300 });
    const { text, closed } = await partialPost(s.port, "/sale/initiate-sale", "application/json", 3000);
    expect(statusLines(text)).toEqual(["HTTP/1.1 408 "]);
    expect(text).toMatch(/connection: close/i);
    expect(text).toContain('"code":"REQUEST_TIMEOUT"');
    expect(closed).toBe(true);
  });

  it("JSON path over HTTP/2: 408 REQUEST_TIMEOUT, then the stream is reset; the session serves on", async () => {
    const s = await start({ requestTimeoutMs: 300 });
    const session = await h2Session(s.url);
    try {
      const { fate } = await openStream(session, TARGETS[0] as (typeof TARGETS)[number], 10, 2000);
      expect(fate.status).toBe(408);
      await new Promise((r) => setTimeout(r, 100));
      expect(fate.closed).toBe(true);
      const { fate: next } = await openStream(session, TARGETS[0] as (typeof TARGETS)[number], 0, 2000, true);
      expect(next.status).toBe(400);
      expect(session.closed).toBe(false);
    } finally {
      session.destroy();
    }
  });

  it("a complete sale is still served within the deadline", async () => {
    const s = await start({ requestTimeoutMs: 2000 });
    const res = await fetch(`${s.url}/sale/initiate-sale`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(saleBody(s.accessToken)),
    });
    expect(res.status).toBe(200);
  });
});
