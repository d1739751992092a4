/**
 * WatchSession over the Connect protocol (connect-node's client, HTTP/1.1
 * and HTTP/2) and through the real `buf curl` as the README shows it: the
 * same stream whatever carries it. A session becomes final through the
 * gateway's final-status callback (GET /callback/{endpointId}).
 */
import { execFile } from "node:child_process";
import * as net from "node:net";
import { resolve } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Session, SessionService, State } from "../gen/toptechpay/session/v1/session_pb.js";
import { sendFinalStatus } from "./support/callback-fixtures.js";
import { checkBody, gatewayToken, initiate, postCheck, unknownInvoice } from "./support/gateway-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";
import { gaugesReach, watchGauges } from "./support/watch-fixtures.js";

const ROOT = resolve(import.meta.dirname, "..");
const BUF = resolve(ROOT, "node_modules/.bin/buf");
const API_KEY = "back-office-key-0123456789abcdef";

let s: TestServer;
beforeAll(async () => {
  // No poll within a test's time: a change a watch sees was announced.
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] }, limits: { watchPollMs: 600_000 } } });
});
afterAll(async () => {
  await s?.close();
});

describe("WatchSession over the Connect protocol", () => {
  for (const httpVersion of ["1.1", "2"] as const) {
    it(`streams initiated, checked, final (the callback's status and order id) over HTTP/${httpVersion}`, async () => {
      const client = createClient(SessionService, createConnectTransport({ baseUrl: s.url, httpVersion }));
      const init = await initiate(s, "sale");
      const sessions: Session[] = [];
      let orderId = "";
      const headers = { authorization: `Bearer ${API_KEY}` };
      for await (const m of client.watchSession({ invoiceId: init.invoiceId }, { headers })) {
        expect(m.session).toBeDefined();
        sessions.push(m.session as Session);
        if (sessions.length === 1) {
          expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(200);
        } else if (sessions.length === 2) {
          const { params, answer } = await sendFinalStatus(s.url, init.invoiceId, { status: "approved" });
          expect(answer.status).toBe(200);
          orderId = params.orderid as string;
        }
      }
      expect(sessions.map((m) => [m.invoiceId, m.state])).toEqual([
        [init.invoiceId, State.INITIATED],
        [init.invoiceId, State.CHECKED],
        [init.invoiceId, State.FINAL],
      ]);
      expect(sessions[2]).toMatchObject({ finalStatus: "approved", gatewayOrderId: orderId });
      expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
    });
  }

  it("an unknown invoice is not_found with ErrorDetail; no key is unauthenticated", async () => {
    const client = createClient(SessionService, createConnectTransport({ baseUrl: s.url, httpVersion: "1.1" }));
    const failure = async (headers: Record<string, string>) => {
      try {
        for await (const _ of client.watchSession({ invoiceId: unknownInvoice() }, { headers })) {
          // nothing is expected
        }
      } catch (e) {
        return ConnectError.from(e);
      }
      throw new Error("the stream ended OK");
    };
    const notFound = await failure({ authorization: `Bearer ${API_KEY}` });
    expect(notFound.code).toBe(Code.NotFound);
    expect(notFound.rawMessage).toMatch(/^No session has invoice id /);
    const unauthenticated = await failure({});
    expect(unauthenticated.code).toBe(Code.Unauthenticated);
    expect(unauthenticated.details).toHaveLength(1);
  });
});

describe("WatchSession over Connect on HTTP/1.1 outlives the request timeouts", () => {
  it("an HTTP/1.1 watch whose connection is lost releases its watch and listener", async () => {
    const init = await initiate(s, "sale");
    const json = Buffer.from(JSON.stringify({ invoiceId: init.invoiceId }));
    const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, json.length]), json]);
    const socket = net.connect(s.port, "127.0.0.1");
    socket.on("error", () => undefined);
    const firstBytes = new Promise<string>((resolve) => socket.once("data", (d: Buffer) => resolve(d.toString())));
    socket.write(
      `POST /toptechpay.session.v1.SessionService/WatchSession HTTP/1.1\r\nHost: x\r\n` +
        `content-type: application/connect+json\r\nauthorization: Bearer ${API_KEY}\r\n` +
        `content-length: ${envelope.length}\r\n\r\n`,
    );
    socket.write(envelope);
    expect(await firstBytes).toMatch(/^HTTP\/1\.1 200 /);
    expect(await watchGauges(s.url)).toEqual({ open: 1, listeners: 1 });
    socket.destroy();
    expect(await gaugesReach(s.url, 0)).toEqual({ open: 0, listeners: 0 });
  });

  it("ends at watchMaxSeconds with WATCH_EXPIRED, not at requestTimeoutMs nor node's request timeout", async () => {
    // node:http's requestTimeout is requestTimeoutMs + 1 s here: 1.1 s.
    const t = await startTestServer({
      config: {
        auth: { apiKeys: [{ key: API_KEY }] },
        limits: { requestTimeoutMs: 100, headersTimeoutMs: 100, watchMaxSeconds: 2 },
      },
    });
    try {
      const client = createClient(SessionService, createConnectTransport({ baseUrl: t.url, httpVersion: "1.1" }));
      const init = await initiate(t, "sale");
      let messages = 0;
      const failure = await (async () => {
        try {
          const headers = { authorization: `Bearer ${API_KEY}` };
          for await (const _ of client.watchSession({ invoiceId: init.invoiceId }, { headers })) messages++;
        } catch (e) {
          return ConnectError.from(e);
        }
        return undefined;
      })();
      expect(messages).toBe(1);
      expect(failure?.code).toBe(Code.DeadlineExceeded);
      expect(failure?.rawMessage).toBe("The watch reached the server's limit of 2 s.");
    } finally {
      await t.close();
    }
  });
});

describe("buf curl", () => {
  it("watches a session over gRPC with the API key, as the README shows", async () => {
    const init = await initiate(s, "sale");
    expect((await postCheck(s.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(200);
    const { params, answer } = await sendFinalStatus(s.url, init.invoiceId, { status: "approved" });
    expect(answer.status).toBe(200);
    const args = ["curl", "--schema", "proto", "--protocol", "grpc", "--http2-prior-knowledge"];
    args.push("-H", `authorization: Bearer ${API_KEY}`, "-d", JSON.stringify({ invoiceId: init.invoiceId }));
    args.push(`${s.url}/toptechpay.session.v1.SessionService/WatchSession`);
    const { exitCode, stdout, stderr } = await new Promise<{ exitCode: number; stdout: string; stderr: string }>(
      (done) => {
        execFile(BUF, args, { cwd: ROOT, timeout: 25_000 }, (error, stdout, stderr) => {
          done({ exitCode: error ? Number((error as NodeJS.ErrnoException).code ?? 1) : 0, stdout, stderr });
        });
      },
    );
    expect(exitCode, stderr).toBe(0);
    // One JSON message: the session, already final, and the stream ended OK.
    const message = JSON.parse(stdout) as { session: Record<string, unknown> };
    expect(message.session).toMatchObject({
      invoiceId: init.invoiceId,
      state: "STATE_FINAL",
      finalStatus: "approved",
      gatewayOrderId: params.orderid,
    });
  });
});
