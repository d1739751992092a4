/**
 * One contract, run unchanged against both stores: the SQLite file and
 * PostgreSQL (a fresh database for this file). Whatever the core relies on
 * (sessions, tokens, velocity counts, failure as StoreUnavailableError) must
 * hold for both, so an instance can move from one to the other.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildConfig } from "../src/config/load-config.js";
import { createAccessTokens } from "../src/core/access-tokens.js";
import { AppError } from "../src/core/error-catalogue.js";
import { drawNonce } from "../src/core/session-ids.js";
import { type SessionRecord, StoreUnavailableError } from "../src/core/session-store.js";
import { type AppStore, openStore } from "../src/store/open-store.js";
import { POSTGRES_MIGRATIONS } from "../src/store/postgres/migrations.js";
import { openPostgresStore } from "../src/store/postgres/store.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";

interface Harness {
  open(): AppStore;
  cleanup(): Promise<void>;
}

function sqliteHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), "cp-contract-"));
  // One process per SQLite file (a second store on an open file is refused):
  // each store this harness opens gets a file of its own.
  let opened = 0;
  return {
    open: () => openStore(storeConfig({ sqlite: join(dir, `proxy-${++opened}.db`) })),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

let pgDb: TestDatabase | undefined;
function postgresHarness(): Harness {
  return {
    open: () => openStore(storeConfig({ postgres: pgDb?.url })),
    cleanup: async () => {
      await pgDb?.drop();
    },
  };
}

/** The store section as the server gets it, through the real config loader. */
function storeConfig(store: Record<string, unknown>) {
  const config = buildConfig(
    { store, endpoints: [{ id: "1", controlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20", operations: ["sale"] }] },
    { env: {}, baseDir: tmpdir() },
  );
  return config.store;
}

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    invoiceId: randomUUID(),
    operation: "sale",
    endpointId: "1111",
    nonce: drawNonce(),
    signature: "A".repeat(40),
    amountCentis: 9_007_199_254_740_991,
    currency: "EUR",
    serialNumber: "SN-1",
    imei: "123456789012345",
    ipAddresses: ["10.0.0.1", "192.168.1.20"],
    location: { lat: 60.1699, lng: -24.9384 },
    accessTokenHash: "f".repeat(64),
    createdAt: new Date("2026-01-02T03:04:05.678Z"),
    ...overrides,
  };
}

describe.each([
  { kind: "sqlite", harness: sqliteHarness, test: it },
  { kind: "postgres", harness: postgresHarness, test: pgIt },
])("store contract: $kind", ({ kind, harness, test }) => {
  const runs = kind === "sqlite" || PG_AVAILABLE;
  let h: Harness;
  let store: AppStore;

  beforeAll(async () => {
    if (!runs) return;
    if (kind === "postgres") pgDb = await createTestDatabase("cp_contract");
    h = harness();
    store = h.open();
    await store.ready();
  });
  afterAll(async () => {
    if (!runs) return;
    await store.close();
    await h.cleanup();
  });

  test("a session is written and read back field for field", async () => {
    const full = session();
    const sparse = session({
      operation: "verification",
      amountCentis: undefined,
      imei: undefined,
      ipAddresses: [],
      location: undefined,
    });
    await Promise.all([store.insertSession(full), store.insertSession(sparse)]);
    expect(await store.findSession(full.invoiceId)).toEqual(full);
    expect(await store.findSession(sparse.invoiceId)).toEqual(sparse);
    expect(await store.findSession(randomUUID())).toBeUndefined();
  });

  test("invoiceId and nonce are unique; a duplicate is refused, not reported as unavailable", async () => {
    const first = session();
    await store.insertSession(first);
    const sameInvoice = store.insertSession(session({ invoiceId: first.invoiceId }));
    await expect(sameInvoice).rejects.toThrow();
    await expect(sameInvoice).rejects.not.toBeInstanceOf(StoreUnavailableError);
    const sameNonce = store.insertSession(session({ nonce: first.nonce }));
    await expect(sameNonce).rejects.toThrow();
    await expect(sameNonce).rejects.not.toBeInstanceOf(StoreUnavailableError);
    // A bad neighbour in the same burst does not fail the good ones.
    const good = session();
    const results = await Promise.allSettled([
      store.insertSession(good),
      store.insertSession(session({ nonce: first.nonce })),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(await store.findSession(good.invoiceId)).toEqual(good);
  });

  test("token records: insert, find, revoke once, revoke a device", async () => {
    const at = new Date("2026-03-01T10:00:00.000Z");
    const token = {
      tokenHash: "a".repeat(64),
      serialNumber: "SN-T",
      issuedAt: at,
      expiresAt: new Date(at.getTime() + 3_600_000),
      revokedAt: undefined,
    };
    await store.insertToken(token);
    expect(await store.findToken(token.tokenHash)).toEqual(token);
    expect(await store.findToken("0".repeat(64))).toBeUndefined();
    await expect(store.insertToken(token)).rejects.toThrow();

    const revokedAt = new Date(at.getTime() + 1000);
    expect(await store.revokeToken(token.tokenHash, revokedAt)).toBe(true);
    expect(await store.revokeToken(token.tokenHash, new Date())).toBe(false);
    expect((await store.findToken(token.tokenHash))?.revokedAt).toEqual(revokedAt);
    expect(await store.revokeToken("1".repeat(64), new Date())).toBe(false);

    for (const [i, serial] of ["SN-D", "SN-D", "SN-D", "SN-OTHER"].entries()) {
      await store.insertToken({ ...token, tokenHash: `d${i}`.padEnd(64, "0"), serialNumber: serial });
    }
    await store.revokeToken("d0".padEnd(64, "0"), at);
    expect(await store.revokeDeviceTokens("SN-D", at)).toBe(2);
    expect(await store.revokeDeviceTokens("SN-D", at)).toBe(0);
    expect((await store.findToken("d3".padEnd(64, "0")))?.revokedAt).toBeUndefined();
  });

  test("the token service over this store: issue, check, wrong device, expire, revoke, revoke device", async () => {
    let now = new Date("2026-04-01T12:00:00.000Z");
    const tokens = createAccessTokens({ store, now: () => now });
    const { accessToken, expiresAt } = await tokens.issue("SN-SVC", 60);
    expect(expiresAt).toEqual(new Date(now.getTime() + 60_000));
    await tokens.check({ accessToken, serialNumber: "SN-SVC" });
    await expect(tokens.check({ accessToken, serialNumber: "SN-ELSE" })).rejects.toBeInstanceOf(AppError);

    now = new Date(now.getTime() + 61_000);
    await expect(tokens.check({ accessToken, serialNumber: "SN-SVC" })).rejects.toMatchObject({
      code: "ACCESS_TOKEN_INVALID",
    });

    const second = await tokens.issue("SN-SVC", 600);
    await tokens.check({ accessToken: second.accessToken, serialNumber: "SN-SVC" });
    expect(await tokens.revoke(second.accessToken)).toBe(true);
    await expect(tokens.check({ accessToken: second.accessToken, serialNumber: "SN-SVC" })).rejects.toMatchObject({
      code: "ACCESS_TOKEN_INVALID",
    });

    const third = await tokens.issue("SN-SVC", 600);
    const fourth = await tokens.issue("SN-SVC", 600);
    // The expired first token is not revoked yet, so it counts too.
    expect(await tokens.revokeDevice("SN-SVC")).toBe(3);
    for (const t of [third, fourth]) {
      await expect(tokens.check({ accessToken: t.accessToken, serialNumber: "SN-SVC" })).rejects.toMatchObject({
        code: "ACCESS_TOKEN_INVALID",
      });
    }
  });

  test("velocity: each attempt counts itself and earlier ones in its window, per dimension and key", async () => {
    const t0 = new Date("2026-05-01T00:00:00.000Z");
    const at = (s: number) => new Date(t0.getTime() + s * 1000);
    const since = (s: number) => at(s);
    const events = (s: number, window: number) => [
      { dimension: "device" as const, key: `dev-${kind}`, since: since(s - window) },
      { dimension: "ip" as const, key: "10.0.0.9", since: since(s - window) },
    ];
    expect(await store.recordVelocity(events(0, 10), at(0))).toEqual([1, 1]);
    expect(await store.recordVelocity(events(1, 10), at(1))).toEqual([2, 2]);
    // Same key under another dimension is counted apart.
    expect(await store.recordVelocity([{ dimension: "token", key: `dev-${kind}`, since: at(-10) }], at(1))).toEqual([
      1,
    ]);
    // The window is exclusive at its start: the attempt at t0 drops out at since = t0.
    expect(await store.recordVelocity(events(10, 10), at(10))).toEqual([2, 2]);
    expect(await store.recordVelocity([], at(11))).toEqual([]);

    // Concurrent attempts may see each other (two may share a count), but
    // never fewer than came before: the k-th smallest count is at least 3 + k.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        store.recordVelocity([{ dimension: "device", key: `dev-${kind}`, since: at(-1) }], at(20)),
      ),
    );
    const sorted = burst.map((c) => c[0] ?? 0).sort((a, b) => a - b);
    sorted.forEach((count, i) => {
      expect(count).toBeGreaterThanOrEqual(4 + i);
    });
    expect(sorted.at(-1)).toBe(13);

    expect(await store.pruneVelocity(at(1))).toBe(5); // t0 and t1: device, ip, and the token row
    expect(await store.recordVelocity([{ dimension: "ip", key: "10.0.0.9", since: at(-100) }], at(30))).toEqual([2]);
  });

  test("ping answers; a closed store rejects with StoreUnavailableError", async () => {
    await store.ping();
    const other = h.open();
    await other.ready();
    await other.close();
    await expect(other.insertSession(session())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

describe("postgres store: migrations and unreachable databases", () => {
  let db: TestDatabase | undefined;
  beforeAll(async () => {
    if (PG_AVAILABLE) db = await createTestDatabase("cp_migrate");
  });
  afterAll(async () => {
    await db?.drop();
  });

  pgIt("several instances starting at once apply each version exactly once", async () => {
    const url = db?.url ?? "";
    const stores = Array.from({ length: 6 }, () => openPostgresStore({ url, poolMax: 2 }));
    try {
      await Promise.all(stores.map((s) => s.ready()));
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query("SELECT version, name FROM schema_migrations ORDER BY version");
        expect(rows.map((r) => Number(r.version))).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version));
      } finally {
        await client.end();
      }
      await Promise.all(stores.map((s) => s.insertSession(session())));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("a database that accepts connections but never answers is StoreUnavailableError, not a hang", async () => {
    const silent = createNetServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    const { port } = silent.address() as AddressInfo;
    const store = openPostgresStore({ url: `postgres://postgres@127.0.0.1:${port}/none`, connectTimeoutMs: 300 });
    try {
      await expect(store.ready()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.findSession(randomUUID())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
      silent.close();
    }
  });

  it("an unreachable database is StoreUnavailableError", async () => {
    // Nothing listens on port 1.
    const store = openPostgresStore({ url: "postgres://postgres@127.0.0.1:1/none", connectTimeoutMs: 500 });
    try {
      await expect(store.ready()).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.insertSession(session())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
