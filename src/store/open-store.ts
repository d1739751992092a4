/**
 * Chooses the store from configuration: PostgreSQL when `store.postgres` (or
 * DATABASE_URL) is set, otherwise the embedded SQLite file. Both satisfy the
 * same interfaces, checked by test/store-contract.test.ts.
 */
import type { Logger } from "pino";
import type { Config } from "../config/load-config.js";
import type { AccessTokenStore } from "../core/access-token-store.js";
import type { CardStore } from "../core/card-store.js";
import type { SessionCheckStore, SessionQueryStore } from "../core/session-state.js";
import type { SessionStore } from "../core/session-store.js";
import type { VelocityStore } from "../core/velocity-store.js";
import { openPostgresStore, redactDatabaseUrl } from "./postgres/store.js";
import { openSqliteStore } from "./sqlite/store.js";

/** Everything the server keeps durably, whichever database holds it. */
export interface AppStore
  extends SessionStore,
    SessionCheckStore,
    SessionQueryStore,
    AccessTokenStore,
    VelocityStore,
    CardStore {
  /** Which implementation this is, for logs. */
  readonly kind: "sqlite" | "postgres";
  /**
   * Resolves once the schema is migrated and the database answered; rejects
   * with StoreUnavailableError when it cannot be reached. SQLite is ready at
   * once; PostgreSQL connects and migrates on the first call.
   */
  ready(): Promise<void>;
}

/** What the store is, for the start-up log line; never shows a password. */
export function describeStore(store: Config["store"]): Record<string, unknown> {
  if (store.postgres) {
    const { url, ...pool } = store.postgres;
    return { postgres: redactDatabaseUrl(url), ...pool };
  }
  return { sqlite: store.sqlite, durability: store.durability };
}

/** Opens the configured store. Synchronous: PostgreSQL connects lazily (see `ready`). */
export function openStore(store: Config["store"], logger?: Logger): AppStore {
  if (store.postgres) {
    const pg = openPostgresStore({
      url: store.postgres.url,
      poolMax: store.postgres.poolMax,
      connectTimeoutMs: store.postgres.connectTimeoutMs,
      queryTimeoutMs: store.postgres.queryTimeoutMs,
      onIdleError: (e) => logger?.warn({ err: { message: e.message } }, "postgres connection lost"),
    });
    return Object.assign(pg, { kind: "postgres" as const });
  }
  const sqlite = openSqliteStore({ path: store.sqlite, durability: store.durability, logger });
  return Object.assign(sqlite, { kind: "sqlite" as const, ready: () => sqlite.ping() });
}
