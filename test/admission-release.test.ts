/**
 * Admission (limits.maxInFlight, shown as cp_requests_in_flight) is released
 * exactly once however a request ends, so callers cannot pin the server by
 * holding requests open: oversize bodies that never end, bodies that never
 * end, streams reset by the caller, connections that drop, and HTTP/2 readers
 * that open no flow-control window. Each attack runs more times than
 * maxInFlight; afterwards the count is back to 0 while the attacking
 * connections are still open, and a valid sale is served.
 */
import * as http2 from "node:http2";
import { fromJson, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SaleRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import {
  h1PartialBody,
  h2Session,
  inFlight,
  inFlightSettles,
  openStream,
  type StreamFate,
  TARGETS,
  type Target,
} from "./support/attacks.js";
import { saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const MAX_IN_FLIGHT = 4;
const DEADLINE_MS = 400;
const MAX_BODY = 2048;
/** More attacks than places, so leaked places would lock the server out. */
const WAVE = MAX_IN_FLIGHT + 2;

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    config: { limits: { maxInFlight: MAX_IN_FLIGHT, requestTimeoutMs: DEADLINE_MS, maxBodyBytes: MAX_BODY } },
  });
});
afterAll(async () => {
  await s?.close();
});

async function expectSaleServed(): Promise<void> {
  const res = await fetch(`${s.url}/sale/initiate-sale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(saleBody(s.accessToken)),
  });
  expect(res.status).toBe(200);
}

/** Runs `n` attacks at once, twice in a row (the second wave needs the first wave's places back). */
async function waves(attack: () => Promise<StreamFate>, n = WAVE): Promise<StreamFate[]> {
  const first = await Promise.all(Array.from({ length: n }, attack));
  await inFlightSettles(s.url, 0, 2000);
  const second = await Promise.all(Array.from({ length: n }, attack));
  return [...first, ...second];
}

describe("HTTP/2: admission comes back while the attacking connections stay open", () => {
  for (const target of TARGETS) {
    it(`${target.name}: oversize and never-ending bodies`, async () => {
      const session = await h2Session(s.url);
      try {
        const wait = DEADLINE_MS + 1500;
        const oversize = await waves(async () => (await openStream(session, target, MAX_BODY * 2, wait)).fate);
        const oversizeEnded = await waves(
          async () => (await openStream(session, target, MAX_BODY * 2, wait, true)).fate,
        );
        const endless = await waves(async () => (await openStream(session, target, 10, wait)).fate);
        // Every attack was answered (refused, too large, or out of time)...
        for (const fate of [...oversize, ...oversizeEnded, ...endless]) {
          expect(fate.status).toBeDefined();
          // A gRPC caller gets its status even though its stream was reset after the answer.
          if (target.type.startsWith("application/grpc") && !target.type.startsWith("application/grpc-web")) {
            expect(fate.grpcStatus).toMatch(/^\d+$/);
          }
        }
        // ...and every place it held is free again, though the connection is still open.
        expect(await inFlightSettles(s.url, 0, 2000)).toBe(0);
        expect(session.closed || session.destroyed).toBe(false);
        for (const fate of [...oversize, ...endless]) expect(fate.closed).toBe(true);
        await expectSaleServed();
      } finally {
        session.destroy();
      }
    });
  }

  it("streams reset by the caller and connections lost mid-body, on every content type", async () => {
    const session = await h2Session(s.url);
    try {
      for (const target of TARGETS) {
        await waves(async () => {
          const { stream, fate } = await openStream(session, target, 10, 20);
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return fate;
        });
      }
      expect(await inFlightSettles(s.url, 0, 2000)).toBe(0);
      for (const target of TARGETS) {
        const lost = await h2Session(s.url);
        await Promise.all(Array.from({ length: WAVE }, () => openStream(lost, target, 10, 20)));
        lost.destroy();
      }
      expect(await inFlightSettles(s.url, 0, 2000)).toBe(0);
      expect(session.closed || session.destroyed).toBe(false);
      await expectSaleServed();
    } finally {
      session.destroy();
    }
  });

  it("a reader that opens no flow-control window (initialWindowSize 0) holds no place past the deadline", async () => {
    const json = JSON.stringify(saleBody(s.accessToken));
    const grpc = encodeEnvelope(
      0,
      toBinary(SaleRequestSchema, fromJson(SaleRequestSchema, saleBody(s.accessToken) as JsonObject)),
    );
    const bodies: [Target, Uint8Array | string][] = [
      [TARGETS[0] as Target, json],
      [TARGETS[1] as Target, json],
      [TARGETS[3] as Target, grpc],
      [TARGETS[4] as Target, encodeEnvelope(0, new TextEncoder().encode(json))],
    ];
    const session = await h2Session(s.url, { settings: { initialWindowSize: 0 } });
    try {
      for (const [target, body] of bodies) {
        for (let i = 0; i < WAVE; i++) {
          const stream = session.request({
            ":method": "POST",
            ":path": target.path,
            "content-type": target.type,
            ...target.headers,
          });
          stream.on("error", () => undefined);
          // Never read: the answer cannot be delivered.
          stream.pause();
          stream.end(body);
        }
        expect(await inFlightSettles(s.url, 0, DEADLINE_MS + 2000)).toBe(0);
      }
      expect(session.closed || session.destroyed).toBe(false);
      await expectSaleServed();
    } finally {
      session.destroy();
    }
  });
});

describe("HTTP/1.1: admission comes back", () => {
  for (const target of TARGETS.filter(
    (t) => !t.type.startsWith("application/grpc+") && t.type !== "application/grpc",
  )) {
    it(`${target.name}: oversize, never-ending and dropped bodies`, async () => {
      const wait = DEADLINE_MS + 1000;
      const sockets = [
        ...(await Promise.all(Array.from({ length: WAVE }, () => h1PartialBody(s.port, target, 100_000, 4096, wait)))),
        ...(await Promise.all(Array.from({ length: WAVE }, () => h1PartialBody(s.port, target, 100, 10, wait)))),
      ];
      for (const { text } of sockets) expect(text()).toMatch(/^HTTP\/1\.1 \d{3} /);
      const dropped = await Promise.all(Array.from({ length: WAVE }, () => h1PartialBody(s.port, target, 100, 10, 20)));
      for (const { socket } of [...sockets, ...dropped]) socket.destroy();
      expect(await inFlightSettles(s.url, 0, 2000)).toBe(0);
      await expectSaleServed();
    });
  }

  it("in flight is 0 at rest", async () => {
    expect(await inFlight(s.url)).toBe(0);
  });
});
