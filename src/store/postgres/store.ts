/**
 * The shared store: PostgreSQL through a bounded `pg` pool, so several server
 * instances behind a load balancer see the same sessions and tokens. Every
 * write is one autocommit statement, so its promise resolves only after
 * COMMIT (synchronous_commit is forced on for our connections).
 *
 * When PostgreSQL cannot be reached every call fails fast with
 * StoreUnavailableError: new connections give up after `connectTimeoutMs`,
 * statements after `queryTimeoutMs`, and a client that saw any error is
 * destroyed rather than reused. The pool opens fresh connections on demand,
 * so it recovers by itself when PostgreSQL is back.
 */
import pg from "pg";
import type { AccessTokenStore } from "../../core/access-token-store.js";
import type { CardStore } from "../../core/card-store.js";
import type { SessionCheckStore, SessionQueryStore } from "../../core/session-state.js";
import type { SessionStore } from "../../core/session-store.js";
import type { VelocityStore } from "../../core/velocity-store.js";
import { classifyStoreError, storeClosed } from "../unavailable.js";
import { createPostgresCardQueries } from "./card-queries.js";
import type { PostgresQuery } from "./dialect.js";
import { applyPostgresMigrations } from "./migrations.js";
import { createPostgresSessionQueries } from "./session-queries.js";
import { createPostgresTokenQueries } from "./token-queries.js";
import { createPostgresVelocityQueries } from "./velocity-queries.js";

/** Options of the PostgreSQL store. */
export interface PostgresStoreOptions {
  /** `postgres://user[:password]@host:port/database` */
  readonly url: string;
  /** Most connections this instance holds open. */
  readonly poolMax?: number;
  /** How long getting a connection (new or from a busy pool) may take. */
  readonly connectTimeoutMs?: number;
  /** How long one statement may run, enforced by the server and the client. */
  readonly queryTimeoutMs?: number;
  /** Called with errors on idle connections (e.g. PostgreSQL restarting), for the log. */
  readonly onIdleError?: (e: Error) => void;
}

/** The PostgreSQL store: sessions (with their state), tokens, velocity counts and cards, plus its lifecycle. */
export interface PostgresStore
  extends SessionStore,
    SessionCheckStore,
    SessionQueryStore,
    AccessTokenStore,
    VelocityStore,
    CardStore {
  readonly pool: pg.Pool;
  /** Applies pending migrations (once); rejects when PostgreSQL cannot be reached. */
  ready(): Promise<void>;
}

/**
 * Creates the store. Nothing connects yet: `ready()` (or the first call)
 * applies the migrations; until they succeed every call retries them.
 */
export function openPostgresStore(options: PostgresStoreOptions): PostgresStore {
  const queryTimeoutMs = options.queryTimeoutMs ?? 1500;
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 1000,
    idleTimeoutMillis: 30_000,
    query_timeout: queryTimeoutMs,
    statement_timeout: queryTimeoutMs,
    idle_in_transaction_session_timeout: 10_000,
    keepAlive: true,
    application_name: "cp-server",
    options: "-c synchronous_commit=on",
  });
  // An idle client losing its connection (PostgreSQL stopped) is removed by
  // the pool; without a listener the event would crash the process.
  pool.on("error", (e) => options.onIdleError?.(e));

  let migrated: Promise<void> | undefined;
  let closed = false;
  function ready(): Promise<void> {
    if (closed) return Promise.reject(storeClosed("postgres"));
    migrated ??= applyPostgresMigrations(pool).then(
      () => undefined,
      (e: unknown) => {
        migrated = undefined; // try again on the next call
        throw classifyStoreError("postgres", e);
      },
    );
    return migrated;
  }

  const query: PostgresQuery = async <R extends pg.QueryResultRow>(text: string, values: unknown[]) => {
    await ready();
    try {
      // pool.query releases a client that errored with the error, which
      // destroys it, so a broken connection is never handed out again.
      return await pool.query<R>(text, values);
    } catch (e) {
      throw classifyStoreError("postgres", e);
    }
  };

  return {
    pool,
    ready,
    ...createPostgresSessionQueries(query),
    ...createPostgresTokenQueries(query),
    ...createPostgresVelocityQueries(query),
    ...createPostgresCardQueries(query),
    async ping() {
      await query("SELECT 1", []);
    },
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

/** The URL with any password replaced by `***`, for logs and messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(unparsable database URL)";
  }
}
