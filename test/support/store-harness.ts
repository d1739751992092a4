/**
 * One store "harness" for the store contract tests, so every contract runs
 * unchanged on both stores: SQLite files in a temporary directory, or a fresh
 * PostgreSQL database for the test file (several instances on it at once).
 * `describeStores` declares the per-store describe with its beforeAll/afterAll.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { type AppStore, openStore } from "../../src/store/open-store.js";
import { createTestDatabase, PG_AVAILABLE, pgIt, type TestDatabase, type TestFn } from "./postgres.js";
import { storeConfig } from "./store-config.js";

/** Which store a harness runs on. */
export type StoreKind = "sqlite" | "postgres";

/** How a test file wants its stores. */
export interface StoreHarnessOptions {
  /** Prefix of the PostgreSQL database names and the SQLite temporary directory, e.g. "cp_cards". */
  readonly name: string;
  /** SQLite durability ("full": every write fsynced before it resolves); PostgreSQL ignores it. */
  readonly durability?: "full";
}

/** What a test needs of one database. */
export interface StoreHarness {
  readonly kind: StoreKind;
  /**
   * A store on this harness's database. SQLite: each name is a file of its
   * own (one process per file: a second store on an open file is refused),
   * a fresh one when no name is given; PostgreSQL: another instance on the
   * same database, whatever the name.
   */
  open(name?: string): AppStore;
  /**
   * A second instance on the same database as `open()`'s stores, when the
   * store allows one (PostgreSQL); undefined for SQLite.
   */
  peer(): AppStore | undefined;
  /** Where `open(name)` keeps its rows, for raw reads: SQLite the file path, PostgreSQL the database URL. */
  location(name: string): string;
  /**
   * Another, empty database, removed at cleanup, for a test that fills one
   * by hand before opening a store on it: its location (as above) and `open`.
   */
  another(): Promise<{ location: string; open(): AppStore }>;
  /** Removes every database and file the harness made. */
  cleanup(): Promise<void>;
}

/** A harness on a new temporary directory (SQLite) or a new database (PostgreSQL). */
export async function createStoreHarness(kind: StoreKind, options: StoreHarnessOptions): Promise<StoreHarness> {
  return kind === "sqlite" ? sqliteHarness(options) : postgresHarness(options);
}

function sqliteHarness({ name, durability }: StoreHarnessOptions): StoreHarness {
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  let opened = 0;
  const location = (file: string) => join(dir, `${file}.db`);
  const openAt = (file: string) => openStore(storeConfig({ sqlite: file, ...(durability ? { durability } : {}) }));
  return {
    kind: "sqlite",
    open: (file = `store-${++opened}`) => openAt(location(file)),
    peer: () => undefined,
    location,
    async another() {
      const file = location(`another-${++opened}`);
      return { location: file, open: () => openAt(file) };
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function postgresHarness({ name }: StoreHarnessOptions): Promise<StoreHarness> {
  const main = await createTestDatabase(name);
  const others: TestDatabase[] = [];
  const openAt = (url: string) => openStore(storeConfig({ postgres: url }));
  const open = () => openAt(main.url);
  return {
    kind: "postgres",
    open,
    peer: open,
    location: () => main.url,
    async another() {
      const db = await createTestDatabase(`${name}_other`);
      others.push(db);
      return { location: db.url, open: () => openAt(db.url) };
    },
    cleanup: async () => {
      for (const db of others) await db.drop();
      await main.drop();
    },
  };
}

/** The name `describeStores` opens the suite's store under (see `StoreSuite.location`). */
const SUITE_STORE = "suite";

/** What a `describeStores` body gets; `store` and `h` are set once beforeAll has run. */
export interface StoreSuite {
  readonly kind: StoreKind;
  /** `it` on SQLite; `pgIt` on PostgreSQL (skipped, or failing in CI, when it is unreachable). */
  readonly test: TestFn;
  /** The suite's store, open and ready. */
  readonly store: AppStore;
  readonly h: StoreHarness;
  /** Where the suite's store keeps its rows (`StoreHarness.location`). */
  readonly location: string;
}

/**
 * Declares `${title}: sqlite` and `${title}: postgres`, each opening a
 * harness and its store before the tests and closing and removing both
 * after; `body` declares the tests with `suite.test`.
 */
export function describeStores(title: string, options: StoreHarnessOptions, body: (suite: StoreSuite) => void): void {
  describe.each([
    { kind: "sqlite" as const, test: it as TestFn },
    { kind: "postgres" as const, test: pgIt },
  ])(`${title}: $kind`, ({ kind, test }) => {
    const runs = kind === "sqlite" || PG_AVAILABLE;
    let h: StoreHarness | undefined;
    let store: AppStore | undefined;

    beforeAll(async () => {
      if (!runs) return;
      h = await createStoreHarness(kind, options);
      store = h.open(SUITE_STORE);
      await store.ready();
    });
    afterAll(async () => {
      await store?.close();
      await h?.cleanup();
    });

    const opened = <T>(value: T | undefined): T => {
      if (value === undefined) throw new Error(`the ${kind} store harness is not open (beforeAll failed or skipped)`);
      return value;
    };
    body({
      kind,
      test,
      get store() {
        return opened(store);
      },
      get h() {
        return opened(h);
      },
      get location() {
        return opened(h).location(SUITE_STORE);
      },
    });
  });
}
