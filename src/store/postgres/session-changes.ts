/**
 * SessionChanges of the PostgreSQL store, across every instance on the
 * database: an announcement is `pg_notify` through the pool; this instance
 * hears them on ONE dedicated connection doing `LISTEN`, opened when the
 * first watcher arrives, and fans each out by invoice id (the payload).
 *
 * The connection is reopened with backoff whenever it drops (PostgreSQL
 * restarted, the network cut). NOTIFY is not queued for a listener that is
 * away, so after every successful LISTEN (the first one too: a change may
 * land between a watcher's first read and LISTEN taking effect) every
 * listener is called once and re-reads the store.
 */
import pg from "pg";
import { createChangeListeners, type StoreSessionChanges } from "../change-listeners.js";

/** The one channel of session changes; a payload is an invoice id. */
export const SESSION_CHANGES_CHANNEL = "cp_session_changes";

/** Options of the PostgreSQL SessionChanges. */
export interface PostgresChangesOptions {
  readonly url: string;
  /** Announces go through the store's pool. */
  readonly pool: pg.Pool;
  readonly connectTimeoutMs: number;
  /** Backoff of reconnecting: first and largest wait. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  /** Told when the listening connection drops or cannot be opened, for the log. */
  readonly onListenError?: (e: Error) => void;
}

/** PostgreSQL SessionChanges over LISTEN/NOTIFY. */
export function createPostgresSessionChanges(options: PostgresChangesOptions): StoreSessionChanges {
  const listeners = createChangeListeners();
  const retryMinMs = options.retryMinMs ?? 100;
  const retryMaxMs = options.retryMaxMs ?? 5000;
  let client: pg.Client | undefined;
  let started = false;
  let closed = false;
  let retryMs = retryMinMs;
  let retryTimer: NodeJS.Timeout | undefined;

  function scheduleReconnect(): void {
    if (closed || retryTimer) return;
    retryTimer = setTimeout(() => {
      retryTimer = undefined;
      void connect();
    }, retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, retryMaxMs);
  }

  async function connect(): Promise<void> {
    if (closed) return;
    const c = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      // A connection cut without a reset is noticed in about a minute, not the OS's two hours.
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      application_name: "cp-server-listen",
    });
    client = c;
    let lost = false;
    const drop = (e?: Error) => {
      if (lost) return;
      lost = true;
      if (e && !closed) options.onListenError?.(e);
      if (client === c) client = undefined;
      c.end().catch(() => undefined);
      scheduleReconnect();
    };
    // Without an error listener a dropped connection would crash the process.
    c.on("error", drop);
    c.on("end", () => drop());
    c.on("notification", (n) => {
      if (n.channel === SESSION_CHANGES_CHANNEL && n.payload) listeners.notify(n.payload);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${SESSION_CHANGES_CHANNEL}`);
    } catch (e) {
      drop(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (closed || lost) return;
    retryMs = retryMinMs;
    listeners.notifyAll();
  }

  return {
    async announce(invoiceId) {
      if (closed) return;
      try {
        await options.pool.query("SELECT pg_notify($1, $2)", [SESSION_CHANGES_CHANNEL, invoiceId]);
      } catch {
        // Never rejects: the change is stored; watchers catch up by their own reads.
      }
    },
    listen(invoiceId, listener) {
      const remove = listeners.add(invoiceId, listener);
      if (!started && !closed) {
        started = true;
        void connect();
      }
      return remove;
    },
    get listeners() {
      return listeners.size;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (retryTimer) clearTimeout(retryTimer);
      retryTimer = undefined;
      const c = client;
      client = undefined;
      await c?.end().catch(() => undefined);
    },
  };
}
