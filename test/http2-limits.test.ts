/**
 * HTTP/2 connections cannot be held open: one that never completes a
 * request's headers (only the preface, or half a header block) is cut after
 * limits.http2HeadersTimeoutMs; one with no request open for
 * limits.http2IdleTimeoutMs gets GOAWAY; one still open
 * limits.http2GoawayTimeoutMs after GOAWAY is cut. And the advertised
 * header-list limit (limits.maxHeaderBytes) is enforced. Raw frames on raw
 * sockets where node:http2's client would behave.
 */
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EMPTY_SETTINGS,
  END_HEADERS,
  END_STREAM,
  frame,
  GET_HEALTHZ_BLOCK,
  GOAWAY,
  HEADERS,
  PREFACE,
  rawConnect,
  serverHeldPorts,
  serverLetsGo,
} from "./support/h2-frames.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const HEADERS_MS = 300;
const IDLE_MS = 1000;
const GOAWAY_MS = 300;
/** Far above every bound here: "still open" after this means never closed. */
const PATIENCE_MS = 4000;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    config: {
      limits: { http2HeadersTimeoutMs: HEADERS_MS, http2IdleTimeoutMs: IDLE_MS, http2GoawayTimeoutMs: GOAWAY_MS },
    },
  });
});
afterAll(async () => {
  await s?.close();
});

describe("HTTP/2 connection time limits", () => {
  it("a connection that sends only the preface and SETTINGS is closed after http2HeadersTimeoutMs", async () => {
    const { socket } = await rawConnect(s.port);
    socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS]));
    const ms = await serverLetsGo(s.port, socket.localPort as number, PATIENCE_MS);
    expect(ms).not.toBe("open");
    expect(ms).toBeGreaterThanOrEqual(HEADERS_MS - 50);
  });

  it("a connection that sends half a header block is closed after http2HeadersTimeoutMs", async () => {
    const { socket } = await rawConnect(s.port);
    // HEADERS without END_HEADERS: the block is never finished.
    socket.write(Buffer.concat([PREFACE, EMPTY_SETTINGS, frame(HEADERS, 0, 1, GET_HEALTHZ_BLOCK.subarray(0, 3))]));
    expect(await serverLetsGo(s.port, socket.localPort as number, PATIENCE_MS)).not.toBe("open");
  });

  it("an idle connection gets GOAWAY, and one that keeps its socket after GOAWAY is cut", async () => {
    const { socket, frameTypes } = await rawConnect(s.port);
    socket.write(
      Buffer.concat([PREFACE, EMPTY_SETTINGS, frame(HEADERS, END_HEADERS | END_STREAM, 1, GET_HEALTHZ_BLOCK)]),
    );
    // The request is answered; then nothing: the caller never closes its side.
    const ms = await serverLetsGo(s.port, socket.localPort as number, IDLE_MS + GOAWAY_MS + PATIENCE_MS);
    expect(ms).not.toBe("open");
    expect(ms).toBeGreaterThanOrEqual(IDLE_MS - 50);
    expect(frameTypes()).toContain(HEADERS);
    expect(frameTypes()).toContain(GOAWAY);
  });

  it("many idle connections are all closed by the idle timeout: descriptors do not pile up", async () => {
    const sessions = await Promise.all(
      Array.from({ length: 40 }, async () => {
        const session = http2.connect(s.url);
        session.on("error", () => undefined);
        await new Promise<void>((resolve, reject) => {
          const stream = session.request({ ":path": "/healthz" });
          stream.on("error", reject);
          stream.resume();
          stream.on("close", () => resolve());
        });
        return session;
      }),
    );
    expect(serverHeldPorts(s.port).size).toBeGreaterThanOrEqual(40);
    const until = Date.now() + IDLE_MS + GOAWAY_MS + PATIENCE_MS;
    while (serverHeldPorts(s.port).size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(serverHeldPorts(s.port).size).toBe(0);
    for (const session of sessions) session.destroy();
  });
});

describe("HTTP/2 header-list limit", () => {
  it("a 60 KB header is refused with 431 HEADERS_TOO_LARGE; the connection serves on", async () => {
    const session = http2.connect(s.url);
    session.on("error", () => undefined);
    try {
      const ask = (headers: http2.OutgoingHttpHeaders) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({ ":path": "/healthz", ...headers });
          let body = "";
          let status = 0;
          stream.setEncoding("utf8");
          stream.on("response", (h) => {
            status = Number(h[":status"]);
          });
          stream.on("data", (d: string) => {
            body += d;
          });
          stream.on("close", () => resolve({ status, body }));
          stream.on("error", reject);
        });
      const big = await ask({ "x-big": "a".repeat(60_000) });
      expect(big.status).toBe(431);
      expect(JSON.parse(big.body)).toMatchObject({ error: { code: "HEADERS_TOO_LARGE", cause: "INVALID_REQUEST" } });
      expect((await ask({ "x-small": "a".repeat(1000) })).status).toBe(200);
    } finally {
      session.destroy();
    }
  });
});
