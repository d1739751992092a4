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
import type { AccessTokenRecord, AccessTokenStore } from "../core/access-token-store.js";
import type { SessionRecord, SessionStore } from "../core/session-store.js";
import { StoreUnavailableError } from "../core/session-store.js";
import type { VelocityStore } from "../core/velocity-store.js";
import { applyPostgresMigrations } from "./postgres-migrations.js";
import { createPostgresVelocityQueries } from "./postgres-velocity-queries.js";

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

/** The PostgreSQL store: sessions, tokens and velocity counts, plus its lifecycle. */
export interface PostgresStore extends SessionStore, AccessTokenStore, VelocityStore {
  readonly pool: pg.Pool;
  /** Applies pending migrations (once); rejects when PostgreSQL cannot be reached. */
  ready(): Promise<void>;
}

// Errors thrown by node's socket layer when the server is away.
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);
// SQLSTATEs meaning "not now": connection exception (08), insufficient
// resources (53), operator intervention (57: shutdown, cancel by timeout).
const UNAVAILABLE_SQLSTATE = /^(08|53|57)/;
// pg and pg-pool report lost connections and their own timeouts without a code.
const UNAVAILABLE_MESSAGE =
  /timeout|Connection terminated|Connection ended|not queryable|connection error|Client was closed|ended the pool/i;

/** Turns "PostgreSQL is away" errors into StoreUnavailableError; others pass through. */
export function classifyPostgresError(e: unknown): unknown {
  if (e instanceof StoreUnavailableError) return e;
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  const away =
    (typeof code === "string" && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code))) ||
    (typeof code !== "string" && e instanceof Error && !(e instanceof TypeError) && UNAVAILABLE_MESSAGE.test(message));
  return away ? new StoreUnavailableError(`postgres: ${typeof code === "string" ? code : message}`, { cause: e }) : e;
}

interface SessionRow {
  invoice_id: string;
  operation: "sale" | "verification";
  endpoint_id: string;
  nonce: string;
  signature: string;
  amount_centis: string | null;
  currency: string;
  serial_number: string;
  imei: string | null;
  ip_addresses: string[];
  lat: number | null;
  lng: number | null;
  access_token_hash: string;
  created_at: Date;
}

function sessionFromRow(row: SessionRow): SessionRecord {
  return {
    invoiceId: row.invoice_id,
    operation: row.operation,
    endpointId: row.endpoint_id,
    nonce: row.nonce,
    signature: row.signature,
    // BIGINT comes back as a string; amounts are safe integers by validation.
    amountCentis: row.amount_centis === null ? undefined : Number(row.amount_centis),
    currency: row.currency,
    serialNumber: row.serial_number,
    imei: row.imei ?? undefined,
    ipAddresses: row.ip_addresses,
    location: row.lat === null || row.lng === null ? undefined : { lat: row.lat, lng: row.lng },
    accessTokenHash: row.access_token_hash,
    createdAt: row.created_at,
  };
}

interface TokenRow {
  token_hash: string;
  serial_number: string;
  issued_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
}

function tokenFromRow(row: TokenRow): AccessTokenRecord {
  return {
    tokenHash: row.token_hash,
    serialNumber: row.serial_number,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at ?? undefined,
  };
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
    if (closed) return Promise.reject(new StoreUnavailableError("postgres: store is closed"));
    migrated ??= applyPostgresMigrations(pool).then(
      () => undefined,
      (e: unknown) => {
        migrated = undefined; // try again on the next call
        throw classifyPostgresError(e);
      },
    );
    return migrated;
  }

  async function query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    await ready();
    try {
      // pool.query releases a client that errored with the error, which
      // destroys it, so a broken connection is never handed out again.
      return await pool.query<R>(text, values);
    } catch (e) {
      throw classifyPostgresError(e);
    }
  }

  return {
    pool,
    ready,
    ...createPostgresVelocityQueries(query),
    async insertSession(r) {
      await query(
        `INSERT INTO sessions (invoice_id, operation, endpoint_id, nonce, signature, amount_centis, currency,
           serial_number, imei, ip_addresses, lat, lng, access_token_hash, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
        [
          r.invoiceId,
          r.operation,
          r.endpointId,
          r.nonce,
          r.signature,
          r.amountCentis ?? null,
          r.currency,
          r.serialNumber,
          r.imei ?? null,
          [...r.ipAddresses],
          r.location?.lat ?? null,
          r.location?.lng ?? null,
          r.accessTokenHash,
          r.createdAt,
        ],
      );
    },
    async findSession(invoiceId) {
      const { rows } = await query<SessionRow>("SELECT * FROM sessions WHERE invoice_id = $1", [invoiceId]);
      return rows[0] && sessionFromRow(rows[0]);
    },
    async insertToken(t) {
      await query(
        `INSERT INTO access_tokens (token_hash, serial_number, issued_at, expires_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [t.tokenHash, t.serialNumber, t.issuedAt, t.expiresAt, t.revokedAt ?? null],
      );
    },
    async findToken(tokenHash) {
      const { rows } = await query<TokenRow>("SELECT * FROM access_tokens WHERE token_hash = $1", [tokenHash]);
      return rows[0] && tokenFromRow(rows[0]);
    },
    async revokeToken(tokenHash, at) {
      const { rowCount } = await query(
        "UPDATE access_tokens SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL",
        [tokenHash, at],
      );
      return (rowCount ?? 0) > 0;
    },
    async revokeDeviceTokens(serialNumber, at) {
      const { rowCount } = await query(
        "UPDATE access_tokens SET revoked_at = $2 WHERE serial_number = $1 AND revoked_at IS NULL",
        [serialNumber, at],
      );
      return rowCount ?? 0;
    },
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
