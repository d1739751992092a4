/**
 * Nothing acknowledged is ever lost: the server process is killed with
 * SIGKILL (no shutdown code runs) in the middle of a burst of initiates, then
 * every invoiceId that got a 200 must be in the database. Run against the
 * SQLite file and PostgreSQL alike.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killMidBurst } from "./support/kill-mid-burst.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase, type TestFn } from "./support/postgres.js";
import { issueToken, postSale, startServerProcess, testConfig } from "./support/server-process.js";

const IN_FLIGHT = 16;
const KILL_AFTER_ACKS = 150;

interface Target {
  store(): Record<string, unknown>;
  storedInvoiceIds(): Promise<Set<string>>;
}

let dir: string;
let db: TestDatabase | undefined;

const targets: { kind: string; test: TestFn; target: Target }[] = [
  {
    kind: "sqlite",
    test: it,
    target: {
      store: () => ({ sqlite: join(dir, "proxy.db") }),
      async storedInvoiceIds() {
        // Opening the file after the kill replays the WAL, as a restart would.
        const file = new Database(join(dir, "proxy.db"));
        try {
          return new Set(file.prepare("SELECT invoice_id FROM sessions").pluck().all() as string[]);
        } finally {
          file.close();
        }
      },
    },
  },
  {
    kind: "postgres",
    test: pgIt,
    target: {
      store: () => ({ postgres: db?.url }),
      async storedInvoiceIds() {
        const client = new pg.Client({ connectionString: db?.url });
        await client.connect();
        try {
          const { rows } = await client.query<{ invoice_id: string }>("SELECT invoice_id FROM sessions");
          return new Set(rows.map((r) => r.invoice_id));
        } finally {
          await client.end();
        }
      },
    },
  },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-durability-"));
  if (PG_AVAILABLE) db = await createTestDatabase("cp_durability");
});
afterAll(async () => {
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(targets)("SIGKILL during a burst: $kind", ({ kind, test, target }) => {
  test("every invoiceId answered 200 is in the database", async () => {
    const server = await startServerProcess(dir, kind, testConfig(target.store()));
    let acked: string[] = [];
    let failedInFlight = 0;
    try {
      const token = await issueToken(server.url, `SN-DUR-${kind}`);
      const sale = async () => {
        const r = await postSale(server.url, token, `SN-DUR-${kind}`, AbortSignal.timeout(10_000));
        if (r.status !== 200) throw new Error(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
        return r.body.invoiceId as string;
      };
      ({ acked, cutOff: failedInFlight } = await killMidBurst(server, {
        workers: IN_FLIGHT,
        killAfter: KILL_AFTER_ACKS,
        send: sale,
      }));
      expect(await server.exited).toBe("SIGKILL");
    } finally {
      await server.stop("SIGKILL");
    }

    // The kill landed mid-burst: requests were still in flight.
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(failedInFlight).toBeGreaterThan(0);
    const stored = await target.storedInvoiceIds();
    const lost = acked.filter((id) => !stored.has(id));
    expect(lost).toEqual([]);
  });
});
