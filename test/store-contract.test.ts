/**
 * One contract, run unchanged against both stores: the SQLite file and
 * PostgreSQL (a fresh database for this file). Whatever the core relies on
 * (sessions and their state, tokens, velocity counts, failure as
 * StoreUnavailableError) must hold for both, so an instance can move from one
 * to the other.
 */
import { createHash, randomUUID } from "node:crypto";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import Database from "better-sqlite3";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccessTokens } from "../src/core/access-tokens.js";
import { AppError } from "../src/core/error-catalogue.js";
import type { SessionQuery, StoredSession } from "../src/core/session-state.js";
import { GatewayTokenInUseError } from "../src/core/session-state.js";
import { type SessionRecord, StoreUnavailableError } from "../src/core/session-store.js";
import type { AppStore } from "../src/store/open-store.js";
import { POSTGRES } from "../src/store/postgres/dialect.js";
import { applyPostgresMigrations, POSTGRES_MIGRATIONS } from "../src/store/postgres/migrations.js";
import { openPostgresStore } from "../src/store/postgres/store.js";
import { insertStatement, SESSIONS, sessionValues } from "../src/store/rows.js";
import { SQLITE } from "../src/store/sqlite/dialect.js";
import { applySqliteMigrations, SQLITE_MIGRATIONS } from "../src/store/sqlite/migrations.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase } from "./support/postgres.js";
import { sessionRecord } from "./support/session-record.js";
import { describeStores, type StoreHarness } from "./support/store-harness.js";

/**
 * A store opened on a database that the previous schema version (every
 * migration before `version`) created and filled with `rows` (the columns
 * that version had).
 */
async function openMigratedFrom(h: StoreHarness, version: number, rows: readonly SessionRecord[]): Promise<AppStore> {
  const old = await h.another();
  if (h.kind === "sqlite") {
    const file = new Database(old.location);
    try {
      file.pragma("journal_mode = WAL");
      applySqliteMigrations(
        file,
        SQLITE_MIGRATIONS.filter((m) => m.version < version),
      );
      const insert = file.prepare(insertStatement(SESSIONS, SQLITE));
      for (const r of rows) insert.run(sessionValues(r, SQLITE));
    } finally {
      file.close();
    }
    return old.open();
  }
  const pool = new pg.Pool({ connectionString: old.location, max: 1 });
  try {
    await applyPostgresMigrations(
      pool,
      POSTGRES_MIGRATIONS.filter((m) => m.version < version),
    );
    for (const r of rows) await pool.query(insertStatement(SESSIONS, POSTGRES), sessionValues(r, POSTGRES));
  } finally {
    await pool.end();
  }
  return old.open();
}

const session = sessionRecord;

/** A gateway token's hash, as the check service stores it. */
const tokenHash = (token: string) => createHash("sha256").update(token, "utf8").digest("hex");

/** A listing with no filter but those given. */
function query(overrides: Partial<SessionQuery> = {}): SessionQuery {
  return {
    serialNumber: undefined,
    state: undefined,
    createdFrom: undefined,
    createdBefore: undefined,
    after: undefined,
    limit: 100,
    ...overrides,
  };
}

/** Newest first: createdAt, then invoiceId, descending (code-point order, as both databases here sort). */
function newestFirst(a: SessionRecord, b: SessionRecord): number {
  const t = b.createdAt.getTime() - a.createdAt.getTime();
  if (t !== 0) return t;
  return a.invoiceId < b.invoiceId ? 1 : a.invoiceId > b.invoiceId ? -1 : 0;
}

const initiated = (r: SessionRecord): StoredSession => ({
  ...r,
  state: "initiated",
  checkedAt: undefined,
  gatewayTokenHash: undefined,
  finalStatus: undefined,
  gatewayOrderId: undefined,
  finalAt: undefined,
});

describeStores("store contract", { name: "cp_contract" }, (ctx) => {
  const { kind, test } = ctx;

  test("a session is written and read back field for field", async () => {
    const full = session();
    const sparse = session({
      operation: "verification",
      amountCentis: undefined,
      imei: undefined,
      ipAddresses: [],
      location: undefined,
    });
    await Promise.all([ctx.store.insertSession(full), ctx.store.insertSession(sparse)]);
    expect(await ctx.store.findSession(full.invoiceId)).toEqual(full);
    expect(await ctx.store.findSession(sparse.invoiceId)).toEqual(sparse);
    expect(await ctx.store.findSession(randomUUID())).toBeUndefined();
  });

  test("invoiceId and nonce are unique; a duplicate is refused, not reported as unavailable", async () => {
    const first = session();
    await ctx.store.insertSession(first);
    const sameInvoice = ctx.store.insertSession(session({ invoiceId: first.invoiceId }));
    await expect(sameInvoice).rejects.toThrow();
    await expect(sameInvoice).rejects.not.toBeInstanceOf(StoreUnavailableError);
    const sameNonce = ctx.store.insertSession(session({ nonce: first.nonce }));
    await expect(sameNonce).rejects.toThrow();
    await expect(sameNonce).rejects.not.toBeInstanceOf(StoreUnavailableError);
    // A bad neighbour in the same burst does not fail the good ones.
    const good = session();
    const results = await Promise.allSettled([
      ctx.store.insertSession(good),
      ctx.store.insertSession(session({ nonce: first.nonce })),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect(await ctx.store.findSession(good.invoiceId)).toEqual(good);
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
    await ctx.store.insertToken(token);
    expect(await ctx.store.findToken(token.tokenHash)).toEqual(token);
    expect(await ctx.store.findToken("0".repeat(64))).toBeUndefined();
    await expect(ctx.store.insertToken(token)).rejects.toThrow();

    const revokedAt = new Date(at.getTime() + 1000);
    expect(await ctx.store.revokeToken(token.tokenHash, revokedAt)).toBe(true);
    expect(await ctx.store.revokeToken(token.tokenHash, new Date())).toBe(false);
    expect((await ctx.store.findToken(token.tokenHash))?.revokedAt).toEqual(revokedAt);
    expect(await ctx.store.revokeToken("1".repeat(64), new Date())).toBe(false);

    for (const [i, serial] of ["SN-D", "SN-D", "SN-D", "SN-OTHER"].entries()) {
      await ctx.store.insertToken({ ...token, tokenHash: `d${i}`.padEnd(64, "0"), serialNumber: serial });
    }
    await ctx.store.revokeToken("d0".padEnd(64, "0"), at);
    expect(await ctx.store.revokeDeviceTokens("SN-D", at)).toBe(2);
    expect(await ctx.store.revokeDeviceTokens("SN-D", at)).toBe(0);
    expect((await ctx.store.findToken("d3".padEnd(64, "0")))?.revokedAt).toBeUndefined();
  });

  test("the token service over this store: issue, check, wrong device, expire, revoke, revoke device", async () => {
    let now = new Date("2026-04-01T12:00:00.000Z");
    const tokens = createAccessTokens({ store: ctx.store, now: () => now });
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
    expect(await ctx.store.recordVelocity(events(0, 10), at(0))).toEqual([1, 1]);
    expect(await ctx.store.recordVelocity(events(1, 10), at(1))).toEqual([2, 2]);
    // Same key under another dimension is counted apart.
    expect(await ctx.store.recordVelocity([{ dimension: "token", key: `dev-${kind}`, since: at(-10) }], at(1))).toEqual(
      [1],
    );
    // The window is exclusive at its start: the attempt at t0 drops out at since = t0.
    expect(await ctx.store.recordVelocity(events(10, 10), at(10))).toEqual([2, 2]);
    expect(await ctx.store.recordVelocity([], at(11))).toEqual([]);

    // Concurrent attempts may see each other (two may share a count), but
    // never fewer than came before: the k-th smallest count is at least 3 + k.
    const burst = await Promise.all(
      Array.from({ length: 10 }, () =>
        ctx.store.recordVelocity([{ dimension: "device", key: `dev-${kind}`, since: at(-1) }], at(20)),
      ),
    );
    const sorted = burst.map((c) => c[0] ?? 0).sort((a, b) => a - b);
    sorted.forEach((count, i) => {
      expect(count).toBeGreaterThanOrEqual(4 + i);
    });
    expect(sorted.at(-1)).toBe(13);

    expect(await ctx.store.pruneVelocity(at(1))).toBe(5); // t0 and t1: device, ip, and the token row
    expect(await ctx.store.recordVelocity([{ dimension: "ip", key: "10.0.0.9", since: at(-100) }], at(30))).toEqual([
      2,
    ]);
  });

  test("a new session is 'initiated' and unbound; an unknown invoice is undefined", async () => {
    const r = session({ serialNumber: "SN-STATE" });
    await ctx.store.insertSession(r);
    expect(await ctx.store.findStoredSession(r.invoiceId)).toEqual(initiated(r));
    expect(await ctx.store.findStoredSession(randomUUID())).toBeUndefined();
  });

  test("bindGatewayToken binds once: a repeat gets its hash, another token gets the first one and changes nothing", async () => {
    const r = session({ serialNumber: "SN-BIND" });
    await ctx.store.insertSession(r);
    const at = new Date("2026-01-02T03:05:00.123Z");
    const first = tokenHash("gateway-token-0001");
    expect(await ctx.store.bindGatewayToken(r.invoiceId, first, at)).toBe(first);
    const bound: StoredSession = {
      ...r,
      state: "checked",
      checkedAt: at,
      gatewayTokenHash: first,
      finalStatus: undefined,
      gatewayOrderId: undefined,
      finalAt: undefined,
    };
    expect(await ctx.store.findStoredSession(r.invoiceId)).toEqual(bound);
    expect(await ctx.store.findSessionByGatewayToken(first)).toEqual(bound);
    expect(await ctx.store.findSessionByGatewayToken(tokenHash("gateway-token-none"))).toBeUndefined();

    // TopTechPay retries: the same token, later.
    expect(await ctx.store.bindGatewayToken(r.invoiceId, first, new Date(at.getTime() + 5000))).toBe(first);
    // A second token: the first comes back; nothing moves, not even checkedAt.
    const second = tokenHash("gateway-token-0002");
    expect(await ctx.store.bindGatewayToken(r.invoiceId, second, new Date(at.getTime() + 9000))).toBe(first);
    expect(await ctx.store.findStoredSession(r.invoiceId)).toEqual(bound);

    expect(await ctx.store.bindGatewayToken(randomUUID(), second, at)).toBeUndefined();
  });

  test("binds racing with different tokens (two instances where the store allows it): exactly one wins", async () => {
    const peer = ctx.h.peer();
    if (peer) await peer.ready();
    try {
      for (let round = 0; round < 5; round++) {
        const r = session({ serialNumber: "SN-RACE" });
        await ctx.store.insertSession(r);
        const hashes = Array.from({ length: 12 }, (_, i) => tokenHash(`race-${round}-${i}-${randomUUID()}`));
        const at = new Date();
        const answers = await Promise.all(
          hashes.map((hash, i) => (i % 2 === 1 && peer ? peer : ctx.store).bindGatewayToken(r.invoiceId, hash, at)),
        );
        const winner = answers[0];
        expect(hashes).toContain(winner);
        expect(answers).toEqual(hashes.map(() => winner));
        expect((await ctx.store.findStoredSession(r.invoiceId))?.gatewayTokenHash).toBe(winner);
        if (peer) expect((await peer.findStoredSession(r.invoiceId))?.gatewayTokenHash).toBe(winner);
      }
    } finally {
      await peer?.close();
    }
  });

  test("a token bound to one session cannot bind another; a good bind in the same burst still binds", async () => {
    const [a, b, c] = [session(), session(), session()];
    await Promise.all([a, b, c].map((r) => ctx.store.insertSession(r)));
    const taken = tokenHash(`taken-${randomUUID()}`);
    await ctx.store.bindGatewayToken(a.invoiceId, taken, new Date());
    const other = tokenHash(`free-${randomUUID()}`);
    const [stolen, good] = await Promise.allSettled([
      ctx.store.bindGatewayToken(b.invoiceId, taken, new Date()),
      ctx.store.bindGatewayToken(c.invoiceId, other, new Date()),
    ]);
    expect(stolen.status).toBe("rejected");
    expect(stolen.status === "rejected" && stolen.reason).toBeInstanceOf(GatewayTokenInUseError);
    expect(good).toEqual({ status: "fulfilled", value: other });
    expect(await ctx.store.findStoredSession(b.invoiceId)).toEqual(initiated(b));
    expect((await ctx.store.findStoredSession(c.invoiceId))?.state).toBe("checked");
  });

  test("a binding survives closing the store and opening it again", async () => {
    const first = ctx.h.open("reopened");
    await first.ready();
    const r = session({ serialNumber: "SN-REOPEN" });
    const hash = tokenHash("gateway-token-reopen");
    const at = new Date("2026-01-02T03:06:00.001Z");
    try {
      await first.insertSession(r);
      expect(await first.bindGatewayToken(r.invoiceId, hash, at)).toBe(hash);
    } finally {
      await first.close();
    }
    const again = ctx.h.open("reopened");
    try {
      await again.ready();
      expect(await again.findStoredSession(r.invoiceId)).toEqual({
        ...r,
        state: "checked",
        checkedAt: at,
        gatewayTokenHash: hash,
      });
      expect(await again.bindGatewayToken(r.invoiceId, tokenHash("another"), new Date())).toBe(hash);
    } finally {
      await again.close();
    }
  });

  test("listSessions filters by device, state and created time (from inclusive, before exclusive, to the millisecond)", async () => {
    const t = new Date("2031-06-01T00:00:00.000Z").getTime();
    const ms = (n: number) => new Date(t + n);
    const device = `SN-LIST-${kind}`;
    const rows = [
      session({ serialNumber: device, createdAt: ms(0) }),
      session({ serialNumber: device, createdAt: ms(1) }),
      session({ serialNumber: device, createdAt: ms(1) }),
      session({ serialNumber: `${device}-B`, createdAt: ms(2) }),
      session({ serialNumber: device, createdAt: ms(3) }),
    ];
    await Promise.all(rows.map((r) => ctx.store.insertSession(r)));
    const [r0, r1a, r1b, r2, r3] = rows as [SessionRecord, SessionRecord, SessionRecord, SessionRecord, SessionRecord];
    await ctx.store.bindGatewayToken(r1a.invoiceId, tokenHash(`list-${randomUUID()}`), ms(10));
    await ctx.store.bindGatewayToken(r2.invoiceId, tokenHash(`list-${randomUUID()}`), ms(11));

    const window = { createdFrom: ms(0), createdBefore: ms(4) };
    const ids = async (q: Partial<SessionQuery>) =>
      (await ctx.store.listSessions(query({ ...window, ...q }))).map((s) => s.invoiceId);
    const sorted = (...rs: SessionRecord[]) => [...rs].sort(newestFirst).map((r) => r.invoiceId);

    expect(await ids({})).toEqual(sorted(r0, r1a, r1b, r2, r3));
    expect(await ids({ serialNumber: device })).toEqual(sorted(r0, r1a, r1b, r3));
    expect(await ids({ serialNumber: "SN-NOBODY" })).toEqual([]);
    expect(await ids({ state: "checked" })).toEqual(sorted(r1a, r2));
    expect(await ids({ state: "initiated", serialNumber: device })).toEqual(sorted(r0, r1b, r3));
    expect(await ids({ state: "final" })).toEqual([]);
    expect(await ids({ createdFrom: ms(1) })).toEqual(sorted(r1a, r1b, r2, r3));
    expect(await ids({ createdBefore: ms(1) })).toEqual(sorted(r0));
    expect(await ids({ createdFrom: ms(1), createdBefore: ms(2) })).toEqual(sorted(r1a, r1b));
    expect(await ids({ createdFrom: ms(3), createdBefore: ms(3) })).toEqual([]);
    expect(await ids({ limit: 2 })).toEqual(sorted(r0, r1a, r1b, r2, r3).slice(0, 2));

    // The cursor: strictly older in (createdAt, invoiceId) order, so of two
    // sessions in one millisecond only the one after it in that order follows.
    const [newer, older] = [r1a, r1b].sort(newestFirst) as [SessionRecord, SessionRecord];
    expect(await ids({ after: { createdAt: newer.createdAt, invoiceId: newer.invoiceId } })).toEqual(sorted(older, r0));
    expect(await ids({ after: { createdAt: r3.createdAt, invoiceId: r3.invoiceId }, serialNumber: device })).toEqual(
      sorted(r0, r1a, r1b),
    );

    const listed = await ctx.store.listSessions(query({ ...window, state: "checked", serialNumber: device }));
    expect(listed).toEqual([
      { ...r1a, state: "checked", checkedAt: ms(10), gatewayTokenHash: listed[0]?.gatewayTokenHash },
    ]);
  });

  test("listSessions pages through 1,000 sessions: each exactly once, newest first", async () => {
    const t = new Date("2032-01-01T00:00:00.000Z").getTime();
    // Three sessions per millisecond, so pages also split within one.
    const rows = Array.from({ length: 1000 }, (_, i) =>
      session({ serialNumber: `SN-PAGE-${i % 3}`, createdAt: new Date(t + Math.floor(i / 3)) }),
    );
    await Promise.all(rows.map((r) => ctx.store.insertSession(r)));
    const window = { createdFrom: new Date(t), createdBefore: new Date(t + 1000) };

    const seen: string[] = [];
    let after: SessionQuery["after"];
    for (let pages = 0; pages < 100; pages++) {
      const page = await ctx.store.listSessions(query({ ...window, after, limit: 37 }));
      seen.push(...page.map((s) => s.invoiceId));
      const last = page.at(-1);
      if (page.length < 37 || !last) break;
      after = { createdAt: last.createdAt, invoiceId: last.invoiceId };
    }
    expect(seen).toHaveLength(1000);
    expect(new Set(seen).size).toBe(1000);
    expect(seen).toEqual([...rows].sort(newestFirst).map((r) => r.invoiceId));

    // One device's pages: a third of them.
    const device: string[] = [];
    after = undefined;
    for (let pages = 0; pages < 100; pages++) {
      const page = await ctx.store.listSessions(query({ ...window, serialNumber: "SN-PAGE-1", after, limit: 50 }));
      device.push(...page.map((s) => s.invoiceId));
      const last = page.at(-1);
      if (page.length < 50 || !last) break;
      after = { createdAt: last.createdAt, invoiceId: last.invoiceId };
    }
    const expected = rows.filter((r) => r.serialNumber === "SN-PAGE-1").sort(newestFirst);
    expect(device).toEqual(expected.map((r) => r.invoiceId));
  });

  test("a database migrated by the previous schema version upgrades: its sessions read as 'initiated' and bind", async () => {
    const old = [session({ serialNumber: "SN-OLD" }), session({ serialNumber: "SN-OLD", operation: "verification" })];
    const upgraded = await openMigratedFrom(ctx.h, 5, old);
    try {
      await upgraded.ready();
      for (const r of old) expect(await upgraded.findStoredSession(r.invoiceId)).toEqual(initiated(r));
      expect(await upgraded.findSession(old[0]?.invoiceId ?? "")).toEqual(old[0]);
      const hash = tokenHash("gateway-token-old");
      expect(await upgraded.bindGatewayToken(old[0]?.invoiceId ?? "", hash, new Date())).toBe(hash);
      const listed = await upgraded.listSessions(query({ serialNumber: "SN-OLD" }));
      expect(listed.map((s) => s.state).sort()).toEqual(["checked", "initiated"]);
    } finally {
      await upgraded.close();
    }
  });

  test("ping answers; a closed store rejects with StoreUnavailableError", async () => {
    await ctx.store.ping();
    const other = ctx.h.open();
    await other.ready();
    await other.close();
    await expect(other.insertSession(session())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.findStoredSession(randomUUID())).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(other.bindGatewayToken(randomUUID(), tokenHash("x"), new Date())).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
    await expect(other.listSessions(query())).rejects.toBeInstanceOf(StoreUnavailableError);
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
      await expect(store.bindGatewayToken(randomUUID(), tokenHash("x"), new Date())).rejects.toBeInstanceOf(
        StoreUnavailableError,
      );
      await expect(store.listSessions(query())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
