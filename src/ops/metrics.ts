/**
 * Prometheus metrics (prom-client), one registry per server so tests can run
 * several servers in one process. Served as text at `GET /metrics`.
 *
 * Label values come from closed sets only (operation names, protocols, catalogue
 * codes, store method names), never from paths or caller input, so the number
 * of series stays bounded whatever callers send.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { type TallyCell, TallyHistogram } from "./tally-histogram.js";

/** Seconds; from well under a millisecond (SQLite) to the default deadline. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const REQUEST_LABELS = ["operation", "protocol", "outcome", "cause", "code"] as const;
type RequestLabel = (typeof REQUEST_LABELS)[number];

/** What one finished request contributes to the metrics. */
export interface RequestObservation {
  /** sale, verification, an RPC method name, an ops path, or "other". */
  readonly operation: string;
  /** json, connect, grpc, grpc-web or http. */
  readonly protocol: string;
  /** ok, error or aborted. */
  readonly outcome: string;
  /** The catalogue cause and code when the request ended in an error. */
  readonly cause: string | undefined;
  readonly code: string | undefined;
  readonly seconds: number;
}

/** The metrics of one server. */
export interface Metrics {
  readonly registry: Registry;
  /**
   * Where `cp_requests_in_flight` is read at each scrape (the admission
   * count); read, not pushed, so a request costs the gauge nothing.
   */
  readInFlightFrom(read: () => number): void;
  /**
   * Where `cp_watches_open` (WatchSession streams open) and
   * `cp_session_change_listeners` (listeners of session changes registered
   * in the store) are read at each scrape.
   */
  readWatchesFrom(watches: () => number, listeners: () => number): void;
  observeRequest(o: RequestObservation): void;
  /** Counts one final-status callback: stored (matched a session), unmatched (kept), or duplicate. */
  countCallback(outcome: "stored" | "duplicate" | "unmatched"): void;
  /** Wraps an access-token issuer so each token it issues is counted. */
  countingIssuance<T extends { issue(...args: never[]): Promise<unknown> }>(tokens: T): T;
  /**
   * Wraps a store so every method that returns a promise is timed in
   * `cp_store_duration_seconds{method}`; other members pass through.
   */
  instrumentStore<T extends object>(store: T): T;
  /** The Prometheus text exposition and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

/** Creates the registry with request, store, token and Node process metrics. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  // One entry per label set: the count not yet added to the counter (added
  // when scraped: prom-client's inc() hashes the label object on every call)
  // and the set's duration cell, so a request costs one map lookup.
  const requestTallies = new Map<
    string,
    { labels: Record<RequestLabel, string>; pending: number; duration: TallyCell }
  >();
  new Counter({
    name: "cp_requests_total",
    help: "Requests answered, by operation, protocol and outcome (ok, or error with its cause and code).",
    labelNames: REQUEST_LABELS,
    registers: [registry],
    collect() {
      for (const tally of requestTallies.values()) {
        if (tally.pending === 0) continue;
        this.inc(tally.labels, tally.pending);
        tally.pending = 0;
      }
    },
  });
  const duration = new TallyHistogram({
    name: "cp_request_duration_seconds",
    help: "Time from the first byte of a request to the end of its answer.",
    labelNames: ["operation", "protocol", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  let readInFlight = () => 0;
  new Gauge({
    name: "cp_requests_in_flight",
    help: "Requests admitted (counted against limits.maxInFlight) and not yet answered.",
    registers: [registry],
    collect() {
      this.set(readInFlight());
    },
  });
  let readWatches = () => 0;
  let readListeners = () => 0;
  new Gauge({
    name: "cp_watches_open",
    help: "SessionService.WatchSession streams open (counted against limits.maxWatches, not maxInFlight).",
    registers: [registry],
    collect() {
      this.set(readWatches());
    },
  });
  new Gauge({
    name: "cp_session_change_listeners",
    help: "Listeners of session changes registered in the store (one per open watch).",
    registers: [registry],
    collect() {
      this.set(readListeners());
    },
  });
  const tokensIssued = new Counter({
    name: "cp_access_tokens_issued_total",
    help: "Access tokens issued (AuthService and open issuance).",
    registers: [registry],
  });
  const callbacks = new Counter({
    name: "cp_callbacks_total",
    help: "Final-status callbacks received with a valid control: stored (matched a session), unmatched (kept, no session), duplicate (delivered again).",
    labelNames: ["outcome"] as const,
    registers: [registry],
  });
  // Every series from the start, so a scrape shows 0 rather than nothing.
  for (const outcome of ["stored", "duplicate", "unmatched"]) callbacks.inc({ outcome }, 0);
  const storeDuration = new TallyHistogram({
    name: "cp_store_duration_seconds",
    help: "Time the store took per call, by store method and outcome.",
    labelNames: ["method", "outcome"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  function timed(method: string, fn: (...args: unknown[]) => unknown, self: object) {
    // Cells resolved once per method: a call costs two hrtime reads and one record.
    const ok = storeDuration.cell({ method, outcome: "ok" });
    const error = storeDuration.cell({ method, outcome: "error" });
    const seconds = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e9;
    return (...args: unknown[]) => {
      const start = process.hrtime.bigint();
      let result: unknown;
      try {
        result = fn.apply(self, args);
      } catch (e) {
        storeDuration.record(error, seconds(start));
        throw e;
      }
      if (result instanceof Promise) {
        return result.then(
          (v) => {
            storeDuration.record(ok, seconds(start));
            return v;
          },
          (e: unknown) => {
            storeDuration.record(error, seconds(start));
            throw e;
          },
        );
      }
      return result;
    };
  }

  return {
    registry,
    readInFlightFrom(read) {
      readInFlight = read;
    },
    readWatchesFrom(watches, listeners) {
      readWatches = watches;
      readListeners = listeners;
    },
    observeRequest(o) {
      const cause = o.cause ?? "";
      const code = o.code ?? "";
      const key = `${o.operation}\u0000${o.protocol}\u0000${o.outcome}\u0000${cause}\u0000${code}`;
      let tally = requestTallies.get(key);
      if (tally === undefined) {
        tally = {
          labels: { operation: o.operation, protocol: o.protocol, outcome: o.outcome, cause, code },
          pending: 0,
          // Label sets differing only in cause and code share one duration cell.
          duration: duration.cell({ operation: o.operation, protocol: o.protocol, outcome: o.outcome }),
        };
        requestTallies.set(key, tally);
      }
      tally.pending++;
      duration.record(tally.duration, o.seconds);
    },
    countCallback(outcome) {
      callbacks.inc({ outcome });
    },
    countingIssuance(tokens) {
      const issue = tokens.issue.bind(tokens) as (...args: never[]) => Promise<unknown>;
      return Object.assign(Object.create(tokens) as typeof tokens, {
        issue: async (...args: never[]) => {
          const issued = await issue(...args);
          tokensIssued.inc();
          return issued;
        },
      });
    },
    instrumentStore(store) {
      // A plain object over the store, built once: each method is replaced by
      // its timed version, everything else is inherited. (A Proxy would run a
      // trap on every property read of every request.)
      const wrapped = Object.create(store) as typeof store;
      for (const [name, value] of Object.entries(store)) {
        // close() is not a latency worth a series.
        if (typeof value !== "function" || name === "close") continue;
        Object.defineProperty(wrapped, name, {
          value: timed(name, value as (...args: unknown[]) => unknown, store),
          enumerable: true,
        });
      }
      return wrapped;
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
