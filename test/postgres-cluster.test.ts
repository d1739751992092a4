/**
 * Two real server processes (`node dist/src/main.js --config FILE`) on two
 * ports sharing one PostgreSQL database, as behind a load balancer: a token
 * issued through one is good at the other, revocation through one holds at
 * the other, sessions from both land in the one database, and each keeps
 * serving while the other is stopped.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { issueToken, postSale, type ServerProcess, startServerProcess, testConfig } from "./support/server-process.js";

describe("two server processes on one PostgreSQL", () => {
  let db: TestDatabase;
  let dir: string;
  let a: ServerProcess;
  let b: ServerProcess;
  const config = () => testConfig({ postgres: db.url, poolMax: 4 });

  beforeAll(async () => {
    if (!PG_AVAILABLE) return;
    db = await createTestDatabase("cp_cluster");
    dir = mkdtempSync(join(tmpdir(), "cp-cluster-"));
    // Started together: both run the migrations at once against an empty database.
    [a, b] = await Promise.all([startServerProcess(dir, "a", config()), startServerProcess(dir, "b", config())]);
  });
  afterAll(async () => {
    if (!PG_AVAILABLE) return;
    await Promise.all([a?.stop(), b?.stop()]);
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function invoiceIdsInDatabase(): Promise<Set<string>> {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ invoice_id: string }>("SELECT invoice_id FROM sessions");
      return new Set(rows.map((r) => r.invoice_id));
    } finally {
      await client.end();
    }
  }

  pgIt("both started at once on an empty database, on different ports", () => {
    expect(a.url).not.toBe(b.url);
    const listening = a.logLines.find((l) => l.msg === "listening") as { config?: { store?: unknown } } | undefined;
    expect(listening?.config?.store).toMatchObject({ postgres: expect.any(String) });
  });

  pgIt(
    "a token issued through one instance is accepted by the other; revoked through it, refused by both",
    async () => {
      const token = await issueToken(a.url, "SN-CLUSTER-1");
      const atB = await postSale(b.url, token, "SN-CLUSTER-1");
      expect(atB.status).toBe(200);
      const atA = await postSale(a.url, token, "SN-CLUSTER-1");
      expect(atA.status).toBe(200);

      const revoke = await fetch(`${b.url}/toptechpay.auth.v1.AuthService/RevokeAccessToken`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer test-api-key-0123456789abcdef0123456789",
        },
        body: JSON.stringify({ accessToken: token }),
      });
      expect(revoke.status).toBe(200);
      for (const url of [a.url, b.url]) {
        const refused = await postSale(url, token, "SN-CLUSTER-1");
        expect(refused.status).toBe(401);
        expect(refused.body).toMatchObject({ error: { code: "ACCESS_TOKEN_INVALID" } });
      }
    },
  );

  pgIt("sessions written through either instance are in the one database", async () => {
    const token = await issueToken(b.url, "SN-CLUSTER-2");
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => postSale(i % 2 === 0 ? a.url : b.url, token, "SN-CLUSTER-2")),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const stored = await invoiceIdsInDatabase();
    for (const r of results) expect(stored.has(r.body.invoiceId as string)).toBe(true);
    // Ids drawn by two processes never collide (the database would refuse a duplicate).
    expect(new Set(results.map((r) => r.body.invoiceId)).size).toBe(20);
  });

  pgIt("each keeps serving while the other is stopped", async () => {
    const token = await issueToken(a.url, "SN-CLUSTER-3");
    expect(await a.stop()).toBe(0);
    expect((await postSale(b.url, token, "SN-CLUSTER-3")).status).toBe(200);
    const tokenFromB = await issueToken(b.url, "SN-CLUSTER-3");

    a = await startServerProcess(dir, "a", config());
    expect(await b.stop()).toBe(0);
    expect((await postSale(a.url, token, "SN-CLUSTER-3")).status).toBe(200);
    expect((await postSale(a.url, tokenFromB, "SN-CLUSTER-3")).status).toBe(200);
    b = await startServerProcess(dir, "b", config());
    expect((await postSale(b.url, tokenFromB, "SN-CLUSTER-3")).status).toBe(200);
  });
});

describe("choosing PostgreSQL at start", () => {
  let db: TestDatabase | undefined;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "cp-pgstart-"));
    if (PG_AVAILABLE) db = await createTestDatabase("cp_start");
  });
  afterAll(async () => {
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  pgIt("DATABASE_URL selects PostgreSQL when the file names no store; the password never reaches the log", async () => {
    const url = (db?.url ?? "").replace("postgres@", "postgres:hunter2-secret@");
    const config = testConfig({});
    const server = await startServerProcess(dir, "env", config, { DATABASE_URL: url });
    try {
      const listening = server.logLines.find((l) => l.msg === "listening") as { config?: { store?: unknown } };
      expect(listening?.config?.store).toMatchObject({ postgres: expect.stringContaining(db?.name ?? "?") });
      const token = await issueToken(server.url, "SN-ENV");
      expect((await postSale(server.url, token, "SN-ENV")).status).toBe(200);
    } finally {
      await server.stop();
    }
    expect(JSON.stringify(server.logLines)).not.toContain("hunter2-secret");
  });

  it("PostgreSQL unreachable at start: a clear message and exit code 1", async () => {
    // Nothing listens on port 1.
    const config = testConfig({ postgres: "postgres://postgres:hunter2-secret@127.0.0.1:1/none" });
    const started = startServerProcess(dir, "unreachable", config);
    await expect(started).rejects.toThrow(/exited \(1\) before listening:\ncannot start: the store cannot be reached/);
    await expect(started).rejects.not.toThrow(/hunter2-secret/);
  });
});
