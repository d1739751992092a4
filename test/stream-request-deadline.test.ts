/**
 * A server stream's request body is bounded like any request's: WatchSession
 * (exempt from the request deadline once it streams) and Health.Watch (never
 * bounded once it streams) still get `limits.requestTimeoutMs` while their
 * one request message is arriving. Otherwise a caller, even one without an
 * API key, could hold streams and sockets for the watch's 15 minutes, or for
 * ever, by never finishing a few bytes of body.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { h1PartialBody, h2Session, openStream, type Target } from "./support/attacks.js";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { gaugesReach } from "./support/watch-fixtures.js";

const DEADLINE_MS = 300;
const GRPC = { te: "trailers" };
const STREAMS: readonly Target[] = [
  {
    name: "WatchSession gRPC",
    path: "/toptechpay.session.v1.SessionService/WatchSession",
    type: "application/grpc",
    headers: GRPC,
  },
  {
    name: "WatchSession Connect",
    path: "/toptechpay.session.v1.SessionService/WatchSession",
    type: "application/connect+json",
  },
  { name: "Health.Watch gRPC", path: "/grpc.health.v1.Health/Watch", type: "application/grpc", headers: GRPC },
];

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    config: {
      auth: { apiKeys: [{ key: "back-office-key-0123456789abcdef" }] },
      limits: { requestTimeoutMs: DEADLINE_MS, watchMaxSeconds: 900 },
    },
  });
});
afterAll(async () => {
  await s?.close();
});

describe("a server stream whose request body never ends", () => {
  for (const target of STREAMS) {
    it(`${target.name}: HTTP/2 stream answered or reset soon after the request deadline`, async () => {
      const session = await h2Session(s.url);
      try {
        const { stream, fate } = await openStream(session, target, 3, 50);
        const closed = new Promise<void>((resolve) => (stream.closed ? resolve() : stream.once("close", resolve)));
        const timer = new Promise<"open">((r) => setTimeout(() => r("open"), DEADLINE_MS + 3000));
        expect(await Promise.race([closed.then(() => "closed" as const), timer])).toBe("closed");
        expect(fate.closed).toBe(true);
        // Answered in the caller's protocol before the cut: gRPC DEADLINE_EXCEEDED, Connect's end-stream error.
        if (target.headers) expect(fate.grpcStatus).toBe("4");
        else expect(fate.status).toBe(200);
        expect(session.closed || session.destroyed).toBe(false);
      } finally {
        session.destroy();
      }
      expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
    });
  }

  it("WatchSession over HTTP/1.1 (Connect): answered and the connection closed soon after the request deadline", async () => {
    const target = STREAMS[1] as Target;
    const { socket, text } = await h1PartialBody(s.port, target, 100, 3, DEADLINE_MS + 2500);
    expect(socket.destroyed || socket.readableEnded).toBe(true);
    expect(text()).toMatch(/^HTTP\/1\.1 \d{3} /);
    socket.destroy();
  });
});
