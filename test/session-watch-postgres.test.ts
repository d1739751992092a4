/**
 * WatchSession across instances on PostgreSQL (LISTEN/NOTIFY): two server
 * processes on one database, neither polling within a test's time; a stock
 * grpc-js watcher on A sees what the gateway sent to B (the check, the card
 * mapping notification, the final-status callback) and its stream ends after
 * the final status; the store's LISTEN connection comes back after
 * PostgreSQL drops it and calls every listener so nothing missed meanwhile
 * is lost; a watch ended by its caller releases its listener.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { openPostgresStore, type PostgresStore } from "../src/store/postgres/store.js";
import { sendFinalStatus } from "./support/callback-fixtures.js";
import {
  checkBody,
  gatewayToken,
  type Initiated,
  notificationBody,
  postCheck,
  postNotification,
  serverCardId,
} from "./support/gateway-fixtures.js";
import { grpcJsGatewayClients } from "./support/grpc-js-client.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import {
  issueToken,
  postSale,
  type ServerProcess,
  startServerProcess,
  TEST_API_KEY,
  testConfig,
} from "./support/server-process.js";
import { bearer, gaugesReach, watchGauges } from "./support/watch-fixtures.js";

let db: TestDatabase;
let dir: string;
let a: ServerProcess;
let b: ServerProcess;

beforeAll(async () => {
  if (!PG_AVAILABLE) return;
  db = await createTestDatabase("cp_watch");
  dir = mkdtempSync(join(tmpdir(), "cp-watch-"));
  // No poll within a test's time: what A sees, it heard through NOTIFY.
  const config = () => testConfig({ postgres: db.url, poolMax: 4 }, { limits: { watchPollMs: 600_000 } });
  a = await startServerProcess(dir, "a", config());
  b = await startServerProcess(dir, "b", config());
});
afterAll(async () => {
  if (!PG_AVAILABLE) return;
  await Promise.all([a?.stop(), b?.stop()]);
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** Ends every LISTEN connection of session changes on the database, as a PostgreSQL restart does. */
async function terminateListeners(): Promise<number> {
  const admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  try {
    // Polled: a LISTEN connection may still be opening.
    for (let i = 0; i < 100; i++) {
      const { rowCount } = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'cp-server-listen' AND query ILIKE 'LISTEN%'",
        [db.name],
      );
      if (rowCount) return rowCount;
      await new Promise((r) => setTimeout(r, 20));
    }
    return 0;
  } finally {
    await admin.end();
  }
}

let devices = 0;
/** A sale started at `url`, as the app starts it. */
async function initiateAt(url: string): Promise<Initiated> {
  const serialNumber = `SN-WATCH-${++devices}`;
  const accessToken = await issueToken(url, serialNumber);
  const { status, body } = await postSale(url, accessToken, serialNumber);
  expect(status).toBe(200);
  const session = body.session as { nonce: string; signature: string };
  return {
    operation: "sale",
    invoiceId: body.invoiceId as string,
    endpointId: body.endpointId as string,
    nonce: session.nonce,
    signature: session.signature,
    accessToken,
    serialNumber,
  };
}

const portOf = (url: string) => Number(new URL(url).port);

describe("WatchSession on two instances sharing PostgreSQL", () => {
  pgIt(
    "A's grpc-js watcher sees the final status delivered through B: initiated, checked, final, then OK",
    async () => {
      const c = grpcJsGatewayClients(portOf(a.url));
      try {
        const init = await initiateAt(a.url);
        const w = c.watch(init.invoiceId, bearer(TEST_API_KEY));
        expect(await w.received(1)).toMatchObject({ invoiceId: init.invoiceId, state: "STATE_INITIATED" });
        const token = gatewayToken();
        expect((await postCheck(b.url, "sale", init.invoiceId, checkBody(init, token))).status).toBe(200);
        expect(await w.received(2)).toMatchObject({ invoiceId: init.invoiceId, state: "STATE_CHECKED" });
        // The card mapping notification changes no state: no message of its own.
        const card = { serverCardId: serverCardId(), uniqueReferenceCardId: 987654321, bin: 411111 };
        const notified = await postNotification(b.url, "sale", notificationBody(init, token, card));
        expect(notified.status, notified.text).toBe(200);
        const { params, answer } = await sendFinalStatus(b.url, init.invoiceId, {
          status: "approved",
          amount: "10.00",
        });
        expect(answer).toMatchObject({ status: 200, json: { received: true, duplicate: false } });
        expect(await w.received(3)).toMatchObject({
          invoiceId: init.invoiceId,
          state: "STATE_FINAL",
          finalStatus: "approved",
          gatewayOrderId: params.orderid,
        });
        expect((await w.ended).code).toBe(grpc.status.OK);
        expect(w.messages).toHaveLength(3);
        expect(await gaugesReach(a.url, 0)).toEqual({ open: 0, listeners: 0 });
      } finally {
        c.close();
      }
    },
  );

  pgIt("after A's LISTEN connection is dropped, A's watcher still sees the check sent to B", async () => {
    const c = grpcJsGatewayClients(portOf(a.url));
    try {
      const init = await initiateAt(a.url);
      const w = c.watch(init.invoiceId, bearer(TEST_API_KEY));
      await w.received(1);
      expect(await terminateListeners()).toBeGreaterThan(0);
      // Sent while A may still be reconnecting: caught up by the re-read after LISTEN, or heard.
      expect((await postCheck(b.url, "sale", init.invoiceId, checkBody(init, gatewayToken()))).status).toBe(200);
      expect(await w.received(2)).toMatchObject({ state: "STATE_CHECKED" });
      expect(a.logLines.some((l) => String(l.msg).includes("LISTEN connection of session changes lost"))).toBe(true);
      w.stream.cancel();
      await w.ended;
    } finally {
      c.close();
    }
  });

  pgIt("a watch cancelled by its caller releases its listener on A", async () => {
    const c = grpcJsGatewayClients(portOf(a.url));
    try {
      const init = await initiateAt(b.url);
      const w = c.watch(init.invoiceId, bearer(TEST_API_KEY));
      await w.received(1);
      expect(await watchGauges(a.url)).toEqual({ open: 1, listeners: 1 });
      w.stream.cancel();
      expect((await w.ended).code).toBe(grpc.status.CANCELLED);
      expect(await gaugesReach(a.url, 0)).toEqual({ open: 0, listeners: 0 });
    } finally {
      c.close();
    }
  });
});

describe("the PostgreSQL store's session changes", () => {
  let one: PostgresStore;
  let two: PostgresStore;
  beforeAll(() => {
    if (!PG_AVAILABLE) return;
    one = openPostgresStore({ url: db.url });
    two = openPostgresStore({ url: db.url });
  });
  afterAll(async () => {
    await Promise.all([one?.close(), two?.close()]);
  });

  /** Resolves once `store` hears a change of `invoiceId`, or rejects after 5 s. */
  function heard(calls: string[], what: string, withinMs = 5000): Promise<void> {
    const until = Date.now() + withinMs;
    return new Promise((resolve, reject) => {
      const look = () => {
        if (calls.includes(what)) return resolve();
        if (Date.now() > until) return reject(new Error(`never heard ${what}: ${calls.join(",")}`));
        setTimeout(look, 20);
      };
      look();
    });
  }

  pgIt("an announcement through one store reaches the other's listeners of that invoice only", async () => {
    const calls: string[] = [];
    const stopX = one.changes.listen("invoice-x", () => calls.push("x"));
    const stopY = one.changes.listen("invoice-y", () => calls.push("y"));
    // Listening starts with one call of every listener (nothing missed before LISTEN).
    await heard(calls, "x");
    calls.length = 0;
    await two.changes.announce("invoice-x");
    await heard(calls, "x");
    expect(calls).not.toContain("y");
    expect(one.changes.listeners).toBe(2);
    stopX();
    stopX();
    stopY();
    expect(one.changes.listeners).toBe(0);
  });

  pgIt("after its LISTEN connection is dropped it reconnects, calls every listener, and hears again", async () => {
    const calls: string[] = [];
    const stop = one.changes.listen("invoice-z", () => calls.push("z"));
    try {
      expect(await terminateListeners()).toBeGreaterThan(0);
      calls.length = 0;
      // The catch-up call after the new LISTEN.
      await heard(calls, "z");
      calls.length = 0;
      await two.changes.announce("invoice-z");
      await heard(calls, "z");
    } finally {
      stop();
    }
  });
});
