/**
 * PostgreSQL stopped for real while a server process runs: initiates answer
 * SERVER_UNAVAILABLE (503 / UNAVAILABLE) within 2 seconds and never hang;
 * once PostgreSQL is back the same process serves again, without a restart.
 * TopTechPay's calls (card mapping notification, final-status callback) and
 * the app's card list are refused the same way, storing nothing, so the
 * gateway's retry after the outage is what stores them: nothing is lost.
 *
 * It stops the machine's PostgreSQL, which other test files use too, so
 * `npm test` runs this file on its own after the rest, and the outage lasts
 * only a few seconds. PostgreSQL is started again in `finally` whatever happens.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { grpcJsClients } from "./support/grpc-js-client.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, postgresReachable, type TestDatabase } from "./support/postgres.js";
import {
  issueToken,
  postSale,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
  TEST_ENDPOINT,
  testConfig,
} from "./support/server-process.js";

const PG_VERSION = readdirSync("/etc/postgresql", { withFileTypes: true }).find((d) => d.isDirectory())?.name ?? "15";

function pgCtl(action: "start" | "stop"): void {
  // Stop uses pg_ctlcluster's default "fast" mode: sessions end at once
  // (clients see 57P01), as in a real stop or failover.
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", PG_VERSION, "main", action], {
    stdio: "pipe",
    timeout: 30_000,
  });
}

async function waitForPostgres(): Promise<void> {
  for (let i = 0; i < 60; i++) {
    if (await postgresReachable()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("PostgreSQL did not come back within 15 s");
}

/** A sale over Connect with JSON: the gRPC-family status of the same failure. */
async function connectSale(url: string, accessToken: string) {
  const res = await fetch(`${url}/toptechpay.initiate.v1.InitiateService/Sale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      consumer: { device: { serialNumber: "SN-OUTAGE" } },
      session: { accessToken },
      transaction: { amountCentis: 1000, currency: "EUR" },
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** POSTs JSON; resolves with status and parsed body. */
async function postJson(url: string, path: string, body: unknown) {
  const res = await fetch(`${url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** A checked sale, and TopTechPay's notification and final-status callback for it. */
async function checkedSale(url: string, token: string) {
  const sale = await postSale(url, token, "SN-OUTAGE");
  const invoiceId = sale.body.invoiceId as string;
  const session = sale.body.session as { nonce: string; signature: string };
  const device = { device: { serialNumber: "SN-OUTAGE" } };
  const gatewayToken = `outage-${invoiceId.slice(-12)}`;
  const check = { consumer: device, session: { accessToken: token, ...session, token: gatewayToken } };
  expect((await postJson(url, `/sale/${invoiceId}/check`, check)).status).toBe(200);
  const control = createHash("sha1").update(`approved77${invoiceId}${TEST_ENDPOINT.controlKey}`).digest("hex");
  const query = new URLSearchParams({ status: "approved", type: "sale", orderid: "77", client_orderid: invoiceId });
  return {
    invoiceId,
    notify: () =>
      postJson(url, "/sale/notification", {
        consumer: device,
        session: { accessToken: token, token: gatewayToken },
        sourceCard: { bin: 411111, reference: { serverCardId: "5550001" } },
      }),
    callback: async () => {
      const res = await fetch(`${url}/callback/${TEST_ENDPOINT.id}?${query}&control=${control}`, {
        signal: AbortSignal.timeout(10_000),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    },
    listCards: () => postJson(url, "/cards/list-cards", { consumer: device, session: { accessToken: token } }),
  };
}

describe.sequential("PostgreSQL stopped while the server runs", () => {
  let db: TestDatabase;
  let dir: string;
  let server: ServerProcess;

  beforeAll(async () => {
    if (!PG_AVAILABLE) return;
    db = await createTestDatabase("cp_outage");
    dir = mkdtempSync(join(tmpdir(), "cp-outage-"));
    server = await startServerProcess(dir, "outage", testConfig({ postgres: db.url }));
  });
  afterAll(async () => {
    if (!PG_AVAILABLE) return;
    await server?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  pgIt("answers SERVER_UNAVAILABLE within 2 s while it is down, and serves again once it is back", async () => {
    const token = await issueToken(server.url, "SN-OUTAGE");
    expect((await postSale(server.url, token, "SN-OUTAGE")).status).toBe(200);
    const gateway = await checkedSale(server.url, token);
    const gatewayDown: { status: number; body: Record<string, unknown> }[] = [];

    const down: { status: number; body: Record<string, unknown>; ms: number }[] = [];
    let connectDown: Awaited<ReturnType<typeof connectSale>> | undefined;
    let issueDown: number | undefined;
    let grpcDown: Awaited<ReturnType<ReturnType<typeof grpcJsClients>["call"]>> | undefined;
    const grpcJs = grpcJsClients(Number(new URL(server.url).port));
    pgCtl("stop");
    try {
      // Sequential first (the pool's idle connections were just cut), then a burst.
      for (let i = 0; i < 3; i++) {
        const t0 = Date.now();
        const r = await postSale(server.url, token, "SN-OUTAGE", AbortSignal.timeout(10_000));
        down.push({ ...r, ms: Date.now() - t0 });
      }
      const t0 = Date.now();
      const burst = await Promise.all(
        Array.from({ length: 8 }, () => postSale(server.url, token, "SN-OUTAGE", AbortSignal.timeout(10_000))),
      );
      down.push(...burst.map((r) => ({ ...r, ms: Date.now() - t0 })));
      connectDown = await connectSale(server.url, token);
      // A stock gRPC client reads the same refusal: UNAVAILABLE with its ErrorDetail.
      grpcDown = await grpcJs.call(grpcJs.initiate, "Sale", {
        consumer: { device: { serialNumber: "SN-OUTAGE" } },
        session: { accessToken: token },
        transaction: { amountCentis: 1000, currency: "EUR" },
      });
      issueDown = (
        await fetch(`${server.url}/toptechpay.auth.v1.AuthService/IssueAccessToken`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
          body: JSON.stringify({ serialNumber: "SN-OUTAGE" }),
        })
      ).status;
      gatewayDown.push(await gateway.notify(), await gateway.callback(), await gateway.listCards());
    } finally {
      pgCtl("start");
      grpcJs.close();
    }
    await waitForPostgres();

    for (const r of down) {
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE" } });
      expect(JSON.stringify(r.body)).not.toMatch(/ECONNREFUSED|postgres|at .*\.js/);
      // The documented bound: an answer within 2 s, never a hang.
      expect(r.ms).toBeLessThan(2000);
    }
    expect(connectDown?.status).toBe(503);
    expect(connectDown?.body).toMatchObject({ code: "unavailable" });
    expect(issueDown).toBe(503);
    expect(grpcDown).toMatchObject({
      ok: false,
      code: grpc.status.UNAVAILABLE,
      detail: { cause: "SERVER_UNAVAILABLE", code: "STORE_UNAVAILABLE" },
    });

    // The same process, no restart: the pool reconnects on demand.
    let back = await postSale(server.url, token, "SN-OUTAGE");
    for (let i = 0; i < 20 && back.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 250));
      back = await postSale(server.url, token, "SN-OUTAGE");
    }
    expect(back.status).toBe(200);
    // TopTechPay's calls refused during the outage stored nothing; its retries now store them, once.
    for (const r of gatewayDown) {
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE", code: "STORE_UNAVAILABLE" } });
    }
    expect((await gateway.listCards()).body).toEqual({ cards: [] });
    expect((await gateway.notify()).status).toBe(200);
    expect((await gateway.callback()).body).toEqual({ received: true, duplicate: false });
    expect((await gateway.listCards()).body.cards).toHaveLength(1);
    const read = await fetch(`${server.url}/toptechpay.session.v1.SessionService/GetSession`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
      body: JSON.stringify({ invoiceId: gateway.invoiceId }),
    });
    expect(((await read.json()) as { session: unknown }).session).toMatchObject({
      state: "STATE_FINAL",
      finalStatus: "approved",
      gatewayOrderId: "77",
    });
    const again = await Promise.all(Array.from({ length: 5 }, () => postSale(server.url, token, "SN-OUTAGE")));
    expect(again.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect(server.child.exitCode).toBeNull();
  });
});
