/**
 * A gateway check's binding outlives the process that made it: a check after
 * a restart (SIGTERM or SIGKILL) on the same SQLite file finds the session and
 * answers as before; on PostgreSQL a session initiated through one instance is
 * checked through another, and the binding holds at both; and SIGKILL in the
 * middle of a burst of checks loses no binding that was answered 200. Real
 * server processes over HTTP; checkSignature recomputed here with node:crypto.
 */
import { createHmac, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { killMidBurst } from "./support/kill-mid-burst.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase, type TestFn } from "./support/postgres.js";
import {
  issueToken,
  type ServerProcess,
  startServerProcess,
  TEST_ENDPOINT,
  testConfig,
} from "./support/server-process.js";

type Operation = "sale" | "verification";

/** What TopTechPay knows of a session when it checks it. */
interface Session {
  readonly operation: Operation;
  readonly invoiceId: string;
  readonly endpointId: string;
  readonly serialNumber: string;
  readonly accessToken: string;
  readonly nonce: string;
  readonly signature: string;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cp-check-durability-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** TopTechPay's session token: 16-36 characters, a fresh one each call. */
function gatewayToken(): string {
  return randomBytes(12).toString("hex");
}

/** The spec's checkSignature (verification, or a sale without a card reference), computed here. */
function expectedCheckSignature(s: Session): string {
  return createHmac("sha1", Buffer.from(TEST_ENDPOINT.controlKey.replaceAll("-", ""), "hex"))
    .update(s.serialNumber + s.nonce + s.endpointId + s.invoiceId, "utf8")
    .digest("hex")
    .toUpperCase();
}

async function post(url: string, body: unknown, signal?: AbortSignal): Promise<Reply> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: signal ?? null,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Initiates a session the way the app does, over the documented JSON path. */
async function initiate(url: string, operation: Operation, accessToken: string, serialNumber: string) {
  const reply = await post(`${url}/${operation}/initiate-${operation}`, {
    consumer: { device: { serialNumber } },
    session: { accessToken },
    transaction: operation === "sale" ? { amountCentis: 1234, currency: "EUR" } : { currency: "USD" },
  });
  if (reply.status !== 200) throw new Error(`initiate answered ${reply.status} ${JSON.stringify(reply.body)}`);
  const b = reply.body as { endpointId: string; invoiceId: string; session: { nonce: string; signature: string } };
  return {
    operation,
    invoiceId: b.invoiceId,
    endpointId: b.endpointId,
    serialNumber,
    accessToken,
    nonce: b.session.nonce,
    signature: b.session.signature,
  } satisfies Session;
}

/** TopTechPay's check of `s` with its session token `token`. */
function check(url: string, s: Session, token: string, signal?: AbortSignal): Promise<Reply> {
  return post(
    `${url}/${s.operation}/${s.invoiceId}/check`,
    {
      consumer: { device: { serialNumber: s.serialNumber } },
      session: { accessToken: s.accessToken, nonce: s.nonce, signature: s.signature, token },
    },
    signal,
  );
}

/** The documented success answer for `s` checked with `token`. */
function successFor(s: Session, token: string) {
  return { invoiceId: s.invoiceId, session: { checkSignature: expectedCheckSignature(s), nonce: s.nonce, token } };
}

function expectAlreadyChecked(reply: Reply, s: Session): void {
  expect(reply.status).toBe(409);
  expect(reply.body).toEqual({
    error: { cause: "INVALID_REQUEST", code: "SESSION_ALREADY_CHECKED", message: expect.any(String) },
    invoiceId: s.invoiceId,
  });
}

describe.each(["SIGTERM", "SIGKILL"] as const)("a check after a restart (%s) on the same SQLite file", (signal) => {
  it("finds the session, answers the documented checkSignature, and the repeat after another restart is the same", async () => {
    const file = join(dir, `restart-${signal}.db`);
    const config = testConfig({ sqlite: file, durability: "full" });
    let server: ServerProcess = await startServerProcess(dir, `restart-${signal}`, config);
    let sale: Session;
    let verification: Session;
    try {
      const accessToken = await issueToken(server.url, "SN-RESTART");
      sale = await initiate(server.url, "sale", accessToken, "SN-RESTART");
      verification = await initiate(server.url, "verification", accessToken, "SN-RESTART");
    } finally {
      expect(await server.stop(signal)).toBe(signal === "SIGTERM" ? 0 : "SIGKILL");
    }

    const saleToken = gatewayToken();
    const verificationToken = gatewayToken();
    server = await startServerProcess(dir, `restart-${signal}`, config);
    try {
      const first = await check(server.url, sale, saleToken);
      expect(first).toEqual({ status: 200, body: successFor(sale, saleToken) });
      const firstVerification = await check(server.url, verification, verificationToken);
      expect(firstVerification).toEqual({ status: 200, body: successFor(verification, verificationToken) });
    } finally {
      await server.stop(signal);
    }

    server = await startServerProcess(dir, `restart-${signal}`, config);
    try {
      // TopTechPay retries: the same check gets the same answer from the new process.
      expect(await check(server.url, sale, saleToken)).toEqual({ status: 200, body: successFor(sale, saleToken) });
      expect(await check(server.url, verification, verificationToken)).toEqual({
        status: 200,
        body: successFor(verification, verificationToken),
      });
      // The binding survived both restarts: another token is refused.
      expectAlreadyChecked(await check(server.url, sale, gatewayToken()), sale);
      expectAlreadyChecked(await check(server.url, verification, gatewayToken()), verification);
    } finally {
      await server.stop();
    }
  });
});

describe("two instances on one PostgreSQL database", () => {
  let db: TestDatabase;
  let a: ServerProcess;
  let b: ServerProcess;
  const config = () => testConfig({ postgres: db.url, poolMax: 4 });

  beforeAll(async () => {
    if (!PG_AVAILABLE) return;
    db = await createTestDatabase("cp_check_cluster");
    [a, b] = await Promise.all([startServerProcess(dir, "pg-a", config()), startServerProcess(dir, "pg-b", config())]);
  });
  afterAll(async () => {
    if (!PG_AVAILABLE) return;
    await Promise.all([a?.stop(), b?.stop()]);
    await db.drop();
  });

  pgIt("initiated on A, checked on B; the repeat on A is the same answer; another token on A is refused", async () => {
    const accessToken = await issueToken(a.url, "SN-PG-CHECK");
    for (const operation of ["sale", "verification"] as const) {
      const s = await initiate(a.url, operation, accessToken, "SN-PG-CHECK");
      const token = gatewayToken();
      expect(await check(b.url, s, token)).toEqual({ status: 200, body: successFor(s, token) });
      expect(await check(a.url, s, token)).toEqual({ status: 200, body: successFor(s, token) });
      expectAlreadyChecked(await check(a.url, s, gatewayToken()), s);
      expectAlreadyChecked(await check(b.url, s, gatewayToken()), s);
    }
  });

  pgIt("two tokens checked at once through A and B: exactly one binds, the other is refused", async () => {
    const accessToken = await issueToken(b.url, "SN-PG-RACE");
    const sessions = await Promise.all(
      Array.from({ length: 20 }, () => initiate(b.url, "sale", accessToken, "SN-PG-RACE")),
    );
    for (const s of sessions) {
      const tokens = [gatewayToken(), gatewayToken()];
      const [atA, atB] = await Promise.all([
        check(a.url, s, tokens[0] as string),
        check(b.url, s, tokens[1] as string),
      ]);
      const winners = [atA, atB].filter((r) => r.status === 200);
      expect(winners).toHaveLength(1);
      const winner = atA.status === 200 ? 0 : 1;
      expect(winners[0]?.body).toEqual(successFor(s, tokens[winner] as string));
      expectAlreadyChecked(winner === 0 ? atB : atA, s);
      // Afterwards both instances agree on the winner.
      for (const url of [a.url, b.url]) {
        expect((await check(url, s, tokens[winner] as string)).status).toBe(200);
        expectAlreadyChecked(await check(url, s, tokens[1 - winner] as string), s);
      }
    }
  });
});

const SESSIONS = 300;
const IN_FLIGHT = 16;
const KILL_AFTER_ACKS = 100;

let pgDb: TestDatabase | undefined;
beforeAll(async () => {
  if (PG_AVAILABLE) pgDb = await createTestDatabase("cp_check_burst");
});
afterAll(async () => {
  await pgDb?.drop();
});

const burstTargets: { kind: string; test: TestFn; store: () => Record<string, unknown> }[] = [
  { kind: "sqlite", test: it, store: () => ({ sqlite: join(dir, "burst.db"), durability: "full" }) },
  { kind: "postgres", test: pgIt, store: () => ({ postgres: pgDb?.url }) },
];

describe.each(burstTargets)("SIGKILL during a burst of checks: $kind", ({ kind, test, store }) => {
  test("every check answered 200 before the kill is bound after the restart", async () => {
    const config = testConfig(store());
    const serial = `SN-BURST-${kind}`;
    let server = await startServerProcess(dir, `burst-${kind}`, config);
    const tokens = new Map<string, string>();
    let acked: Session[] = [];
    let cutOff = 0;
    let sessions: Session[] = [];
    try {
      const accessToken = await issueToken(server.url, serial);
      // Initiated in parallel, IN_FLIGHT at a time.
      const url = server.url;
      let next = 0;
      const made: Session[] = [];
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async () => {
          while (next < SESSIONS) {
            next++;
            made.push(await initiate(url, "sale", accessToken, serial));
          }
        }),
      );
      sessions = made;
      for (const s of sessions) tokens.set(s.invoiceId, gatewayToken());

      let at = 0;
      const checkOne = async (s: Session) => {
        const token = tokens.get(s.invoiceId) as string;
        const r = await check(url, s, token, AbortSignal.timeout(10_000));
        if (r.status !== 200) throw new Error(`unexpected ${r.status} ${JSON.stringify(r.body)}`);
        expect(r.body).toEqual(successFor(s, token));
        return s;
      };
      ({ acked, cutOff } = await killMidBurst(server, {
        workers: IN_FLIGHT,
        killAfter: KILL_AFTER_ACKS,
        send: () => (at < sessions.length ? checkOne(sessions[at++] as Session) : undefined),
      }));
      expect(await server.exited).toBe("SIGKILL");
    } finally {
      await server.stop("SIGKILL");
    }
    console.info(`${kind}: ${acked.length} checks acknowledged before the kill, ${cutOff} cut off in flight`);
    // The kill landed mid-burst: checks were in flight and sessions were left unchecked.
    expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
    expect(acked.length).toBeLessThan(SESSIONS);
    expect(cutOff).toBeGreaterThan(0);

    server = await startServerProcess(dir, `burst-${kind}`, config);
    try {
      const url = server.url;
      const lost: string[] = [];
      await Promise.all(
        acked.map(async (s) => {
          const token = tokens.get(s.invoiceId) as string;
          const other = await check(url, s, gatewayToken());
          const repeat = await check(url, s, token);
          if (other.status !== 409 || repeat.status !== 200) lost.push(s.invoiceId);
          expectAlreadyChecked(other, s);
          expect(repeat.body).toEqual(successFor(s, token));
        }),
      );
      expect(lost).toEqual([]);
      // Every other session, cut off or never reached, is either bound or not:
      // its own check answers 200 now either way, and binds it.
      const ackedIds = new Set(acked.map((s) => s.invoiceId));
      const rest = sessions.filter((s) => !ackedIds.has(s.invoiceId));
      const replies = await Promise.all(rest.map((s) => check(url, s, tokens.get(s.invoiceId) as string)));
      replies.forEach((r, i) => {
        const s = rest[i] as Session;
        expect(r).toEqual({ status: 200, body: successFor(s, tokens.get(s.invoiceId) as string) });
      });
    } finally {
      await server.stop();
    }
  });
});
