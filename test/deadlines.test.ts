/**
 * Deadlines on RPCs and JSON paths, with a store that is really slow: the test
 * holds an exclusive lock on the PostgreSQL sessions table, so the server's
 * insert waits (asynchronously) until the lock is released or its own query
 * timeout passes. The server's default deadline (limits.requestTimeoutMs) and
 * the caller's (grpc-timeout, connect-timeout-ms) both end the wait first.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { ErrorDetailSchema, InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { buildConfig } from "../src/config/load-config.js";
import { type AppServer, createServer } from "../src/server.js";
import { saleBody } from "./support/initiate-fixtures.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { TEST_CONTROL_KEY, TEST_ENDPOINT_ID, TEST_SERIAL } from "./support/test-server.js";

interface Running {
  readonly server: AppServer;
  readonly url: string;
  readonly accessToken: string;
}

/** A real server on the PostgreSQL store (startTestServer always uses SQLite). */
async function start(store: object, limits: object = {}): Promise<Running> {
  const config = buildConfig(
    {
      server: { host: "127.0.0.1", port: 0 },
      store,
      endpoints: [{ id: TEST_ENDPOINT_ID, controlKey: TEST_CONTROL_KEY, operations: ["sale"], currencies: ["EUR"] }],
      limits,
    },
    { env: {}, baseDir: ".", sourceName: "test" },
  );
  const server = createServer(config, pino({ level: "silent" }));
  const { url } = await server.listen();
  return { server, url, accessToken: (await server.tokens.issue(TEST_SERIAL)).accessToken };
}

let db: TestDatabase | undefined;
let quick: Running | undefined;
let patient: Running | undefined;
let locker: pg.Client | undefined;

beforeAll(async () => {
  if (!PG_AVAILABLE) return;
  db = await createTestDatabase("cp_deadline");
  // The store's own query timeout is far beyond both deadlines below.
  const store = { postgres: db.url, queryTimeoutMs: 20_000 };
  quick = await start(store, { requestTimeoutMs: 300 });
  patient = await start(store);
  locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE");
});

afterAll(async () => {
  await locker?.query("ROLLBACK").catch(() => undefined);
  await locker?.end().catch(() => undefined);
  await quick?.server.close(2000);
  await patient?.server.close(2000);
  await db?.drop();
});

function expectDeadline(e: unknown): void {
  expect(e).toBeInstanceOf(ConnectError);
  expect((e as ConnectError).code).toBe(Code.DeadlineExceeded);
  expect((e as ConnectError).findDetails(ErrorDetailSchema)[0]).toMatchObject({
    cause: "SERVER_UNAVAILABLE",
    code: "DEADLINE_EXCEEDED",
  });
}

describe("deadlines with a store that waits on a lock", () => {
  pgIt("server default deadline: gRPC and Connect get DEADLINE_EXCEEDED, JSON gets 504", async () => {
    const s = quick as Running;
    for (const transport of [
      createGrpcTransport({ baseUrl: s.url }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1", useBinaryFormat: false }),
    ]) {
      expectDeadline(
        await createClient(InitiateService, transport)
          .sale(saleBody(s.accessToken))
          .catch((e: unknown) => e),
      );
    }
    const res = await fetch(`${s.url}/sale/initiate-sale`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(saleBody(s.accessToken)),
    });
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE", code: "DEADLINE_EXCEEDED" } });
  });

  pgIt("the caller's deadline (grpc-timeout, connect-timeout-ms) is honoured below the server's", async () => {
    const s = patient as Running;
    for (const transport of [
      createGrpcTransport({ baseUrl: s.url }),
      createConnectTransport({ baseUrl: s.url, httpVersion: "1.1", useBinaryFormat: false }),
    ]) {
      const client = createClient(InitiateService, transport);
      // The client's own timer is set far later, so the error must be the server's answer.
      const e = await client
        .sale(saleBody(s.accessToken), { headers: { "grpc-timeout": "300m", "connect-timeout-ms": "300" } })
        .catch((x: unknown) => x);
      expectDeadline(e);
    }
  });
});
