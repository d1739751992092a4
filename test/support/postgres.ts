/**
 * PostgreSQL for tests: the local server at 127.0.0.1:5432 (user postgres,
 * trust auth), one fresh database per test file, dropped afterwards, so test
 * files never see each other's rows.
 *
 * When PostgreSQL cannot be reached, `pgTest` fails the tests in CI
 * (CI=true) and skips them with a clear message elsewhere.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { it } from "vitest";

/** The maintenance database used to create and drop test databases. */
export const PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres";
const IN_CI = process.env.CI === "true";

/** Resolves true when PostgreSQL answers within a second. */
export async function postgresReachable(url = PG_ADMIN_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Whether this file's PostgreSQL tests run; decided once per file. */
export const PG_AVAILABLE = await postgresReachable();
const UNREACHABLE = `PostgreSQL is not reachable at ${PG_ADMIN_URL}`;
if (!PG_AVAILABLE && !IN_CI) {
  console.warn(`${UNREACHABLE}: skipping PostgreSQL tests (they fail in CI). Start it with:
  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`);
}

/** How a test file declares one test; `it` fits it too. */
export type TestFn = (name: string, fn: () => unknown, timeout?: number) => void;

/**
 * `it` for a test that needs PostgreSQL: runs when it is reachable; otherwise
 * fails in CI and is skipped (with the warning above) elsewhere.
 */
export const pgIt: TestFn = PG_AVAILABLE
  ? (name, fn, timeout) => it(name, fn, timeout)
  : IN_CI
    ? (name) =>
        it(name, () => {
          throw new Error(`${UNREACHABLE} (CI=true: PostgreSQL tests must run)`);
        })
    : (name, fn) => it.skip(name, fn);

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh, empty database; `drop()` removes it (closing any connection left). */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  drop(): Promise<void>;
}

/** Creates a database with a random name. */
export async function createTestDatabase(prefix = "cp_test"): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: () =>
      admin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      }),
  };
}
