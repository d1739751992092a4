/**
 * `npm run simulate` against real servers: the development set-up of `npm
 * start` (SQLite, open issuance, endpoint 1111, its key in ./data/) with the
 * simulator's defaults, the back office's view with an API key, and two
 * processes on one PostgreSQL database (the app at one, TopTechPay at the
 * other). A wrong key makes it fail and name the step; bad arguments get the
 * usage and exit code 2. Each run's effects are read back from the database.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { type ServerProcess, startServerProcess, TEST_API_KEY } from "./support/server-process.js";
import {
  APP_AND_GATEWAY_STEPS,
  freshControlKey,
  runSimulator,
  type SimulatorRun,
  simulatedDevice,
  stepLines,
  unshortenedSecrets,
  WITH_BACK_OFFICE_STEPS,
} from "./support/simulator.js";

/** What developmentConfig builds, on port 0, plus an API key for the back-office runs. */
function devConfig(dir: string, store: Record<string, unknown>) {
  return {
    server: { host: "127.0.0.1", port: 0 },
    store,
    endpoints: [
      { id: "1111", controlKeyFile: join(dir, "data/dev-control-key"), operations: ["sale", "verification"] },
    ],
    auth: { openIssuance: true, apiKeys: [{ key: TEST_API_KEY }] },
    log: { level: "info" },
  };
}

/** Asserts a run passed every step of `steps`, in order, and showed no secret whole. */
function expectPassed(run: SimulatorRun, steps: readonly string[], key: string): void {
  expect({ code: run.code, stderr: run.stderr }, run.stdout).toEqual({ code: 0, stderr: "" });
  const lines = stepLines(run.stdout);
  expect(lines.map((l) => l.name)).toEqual(steps);
  expect(lines.filter((l) => l.verdict !== "ok")).toEqual([]);
  expect(run.stdout).toMatch(new RegExp(`PASSED: all ${steps.length} steps\\n$`));
  expect(run.stdout).not.toContain(key);
  expect(run.stdout).not.toContain(TEST_API_KEY);
  expect(unshortenedSecrets(run.stdout)).toEqual([]);
}

/** The failing step's lines of a run that must have failed at `step`. */
function expectFailedAt(run: SimulatorRun, step: string): string {
  expect(run.code, run.stdout + run.stderr).toBe(1);
  const lines = stepLines(run.stdout);
  expect(lines.at(-1)).toMatchObject({ verdict: "FAIL", name: step });
  expect(run.stdout).toMatch(new RegExp(`FAILED at step ${lines.length} \\(${step}\\)\\n$`));
  return run.stdout.slice(run.stdout.indexOf(`FAIL`));
}

describe("the simulator against the development server (SQLite)", () => {
  let dir: string;
  let key: string;
  let server: ServerProcess;
  beforeAll(async () => {
    // A stand-in for a checkout after `npm start`: ./data/dev-control-key and ./data/proxy.db.
    dir = mkdtempSync(join(tmpdir(), "cp-sim-"));
    mkdirSync(join(dir, "data"));
    key = freshControlKey();
    writeFileSync(join(dir, "data/dev-control-key"), `${key}\n`, { mode: 0o600 });
    server = await startServerProcess(dir, "dev", devConfig(dir, { sqlite: join(dir, "data/proxy.db") }));
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function rows<T>(sql: string, ...params: unknown[]): T[] {
    const db = new Database(join(dir, "data/proxy.db"), { readonly: true });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  it("with only --url: every step passes, and the sessions and cards are in the store", async () => {
    const run = await runSimulator(["--url", server.url], dir);
    expectPassed(run, APP_AND_GATEWAY_STEPS, key);
    const device = simulatedDevice(run.stdout);
    const sessions = rows<{ operation: string; final_status: string; gateway_order_id: string }>(
      "SELECT operation, final_status, gateway_order_id FROM sessions WHERE serial_number = ? ORDER BY created_at_ms",
      device,
    );
    expect(sessions.map((s) => [s.operation, s.final_status])).toEqual([
      ["sale", "approved"],
      ["sale", "approved"],
      ["verification", "approved"],
    ]);
    for (const s of sessions) expect(run.stdout).toContain(`orderid ${s.gateway_order_id},`);
    // The sale's card once (its redelivery kept it), the verification's card.
    const cards = rows<{ operation: string; bin: number }>(
      "SELECT operation, bin FROM device_cards WHERE serial_number = ? AND deleted_at_ms IS NULL ORDER BY created_at_ms",
      device,
    );
    expect(cards).toEqual([
      { operation: "sale", bin: 411111 },
      { operation: "verification", bin: 411111 },
    ]);
  });

  it("with --api-key: the token from AuthService, the sale followed with WatchSession, every session read final", async () => {
    const run = await runSimulator(["--url", server.url, "--api-key", TEST_API_KEY, "--serial", "SN-SIM-OFFICE"], dir);
    expectPassed(run, WITH_BACK_OFFICE_STEPS, key);
    const watched = stepLines(run.stdout).filter((l) => l.name === "watch-session");
    expect(watched.map((l) => /: (\w+)/.exec(l.detail)?.[1])).toEqual(["INITIATED", "CHECKED", "FINAL"]);
    expect(watched[2]?.detail).toContain("then the stream ended");
    for (const l of stepLines(run.stdout).filter((s) => s.name.startsWith("get-session"))) {
      expect(l.detail).toMatch(/^FINAL approved order \d+ /);
    }
  });

  it("a wrong --control-key: fails at the initiate, whose signature does not verify, and never shows the key", async () => {
    const wrong = freshControlKey();
    const run = await runSimulator(["--url", server.url, "--control-key", wrong], dir);
    const failure = expectFailedAt(run, "initiate-sale");
    expect(failure).toMatch(/expected: session\.signature = [0-9A-F]{40} \(HMAC-SHA1 over accessToken\+serialNumber/);
    expect(failure).toMatch(/got: +"[0-9A-F]{40}"; POST \/sale\/initiate-sale answered 200 /);
    expect(run.stdout).not.toContain(wrong);
    expect(run.stdout).not.toContain(key);
  });

  it("the key without its dashes: every HMAC verifies, but the server refuses the callback's control (403)", async () => {
    // The HMACs use the key's bytes; the callback's control hashes the key's text, dashes included.
    const run = await runSimulator(["--url", server.url, "--control-key", key.replaceAll("-", "")], dir);
    const failure = expectFailedAt(run, "sale-callback");
    expect(failure).toContain("CALLBACK_CONTROL_INVALID");
    expect(failure).toMatch(/got: +GET \/callback\/1111\?status=approved&type=sale&orderid=\d+&client_orderid=/);
    expect(failure).toMatch(/answered 403 /);
    expect(
      stepLines(run.stdout)
        .slice(0, 4)
        .map((l) => l.verdict),
    ).toEqual(["ok", "ok", "ok", "ok"]);
    expect(run.stdout).not.toContain(key.replaceAll("-", ""));
    const device = simulatedDevice(run.stdout);
    expect(rows("SELECT 1 FROM sessions WHERE serial_number = ? AND final_status IS NOT NULL", device)).toEqual([]);
  });
});

describe("the simulator's command line", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cp-sim-args-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ["no --url", [], "--url is required"],
    ["an unknown option", ["--url", "http://127.0.0.1:1", "--colour"], "Unknown option '--colour'"],
    ["a URL that is not http", ["--url", "ftp://127.0.0.1/"], "--url must be an http:// or https:// URL"],
    [
      "both key options",
      ["--url", "http://127.0.0.1:1", "--control-key", "AB", "--control-key-file", "k"],
      "give --control-key or --control-key-file, not both",
    ],
    [
      "no key file where npm start writes it",
      ["--url", "http://127.0.0.1:1"],
      "cannot read the control key file data/dev-control-key (ENOENT)",
    ],
    [
      "a key that is not hexadecimal",
      ["--url", "http://127.0.0.1:1", "--control-key", "not-a-secret-key"],
      "--control-key is not a control key",
    ],
  ])("%s: exit 2 with the usage", async (_, args, message) => {
    const run = await runSimulator(args, dir);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain(message);
    expect(run.stderr).toContain("usage: npm run simulate -- --url URL");
    expect(run.stderr).not.toContain("not-a-secret-key");
  });

  it("--help: the usage on stdout, exit 0", async () => {
    const run = await runSimulator(["--help"], dir);
    expect(run).toMatchObject({ code: 0, stderr: "" });
    expect(run.stdout).toContain("--gateway-url URL");
  });

  it("no server at the URL: fails at the token step, saying why", async () => {
    const port = await new Promise<number>((done) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => done(port));
      });
    });
    const run = await runSimulator(["--url", `http://127.0.0.1:${port}`, "--control-key", freshControlKey()], dir);
    const failure = expectFailedAt(run, "token");
    expect(failure).toContain("ECONNREFUSED");
  });
});

describe("the simulator against two processes on one PostgreSQL", () => {
  let db: TestDatabase;
  let dir: string;
  let key: string;
  let a: ServerProcess;
  let b: ServerProcess;
  beforeAll(async () => {
    if (!PG_AVAILABLE) return;
    db = await createTestDatabase("cp_sim");
    dir = mkdtempSync(join(tmpdir(), "cp-sim-pg-"));
    mkdirSync(join(dir, "data"));
    key = freshControlKey();
    writeFileSync(join(dir, "data/dev-control-key"), `${key}\n`);
    const config = devConfig(dir, { postgres: db.url, poolMax: 4 });
    [a, b] = await Promise.all([startServerProcess(dir, "a", config), startServerProcess(dir, "b", config)]);
  });
  afterAll(async () => {
    if (!PG_AVAILABLE) return;
    await Promise.all([a?.stop(), b?.stop()]);
    await db.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  pgIt("the app at A, TopTechPay at B: every step passes, WatchSession at A sees B's changes", async () => {
    const args = ["--url", a.url, "--gateway-url", b.url, "--api-key", TEST_API_KEY, "--control-key", key];
    const run = await runSimulator([...args, "--serial", "SN-SIM-CLUSTER"], tmpdir());
    expectPassed(run, WITH_BACK_OFFICE_STEPS, key);
    expect(run.stdout).toContain(`app -> ${a.url}, TopTechPay -> ${b.url}`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ final_status: string }>(
        "SELECT final_status FROM sessions WHERE serial_number = 'SN-SIM-CLUSTER'",
      );
      expect(rows.map((r) => r.final_status)).toEqual(["approved", "approved", "approved"]);
      const cards = await client.query("SELECT 1 FROM device_cards WHERE serial_number = 'SN-SIM-CLUSTER'");
      expect(cards.rowCount).toBe(2);
    } finally {
      await client.end();
    }
  });
});
