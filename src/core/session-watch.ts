/**
 * WatchSession's core: one session streamed from its current state to its
 * final one. Each message is what the store holds when it was read; the
 * store's SessionChanges only says when to read again, and a poll at a
 * modest interval catches a change whose announcement was lost.
 *
 * A watch holds a listener and two timers; they are taken when the watch
 * starts and released however it ends (final state, the caller's signal,
 * the server stopping, the time cap, a failure), in the generator's finally.
 * Every wait also ends on those signals, so a watch never hangs on to them
 * while nobody pulls.
 */
import { AppError, toAppError } from "./error-catalogue.js";
import type { SessionChanges } from "./session-changes.js";
import { type SessionView, view } from "./session-queries.js";
import type { SessionCheckStore, StoredSession } from "./session-state.js";
import { StoreUnavailableError } from "./session-store.js";
import { rethrowStoreFailure } from "./store-failure.js";

/** What watches need; built once at start. */
export interface SessionWatchDeps {
  readonly sessions: Pick<SessionCheckStore, "findStoredSession">;
  readonly changes: SessionChanges;
  /** Watches open at once; past it a new one gets WATCHES_EXHAUSTED. */
  readonly maxWatches: number;
  /** The longest a watch lasts; then it ends with WATCH_EXPIRED. */
  readonly maxMs: number;
  /** How often a watch re-reads its session without an announcement. */
  readonly pollMs: number;
  /** Aborted when the server starts draining: open watches end with SHUTTING_DOWN and new ones are refused. */
  readonly stopping: AbortSignal;
}

/** Streams sessions to watchers. */
export interface SessionWatcher {
  /**
   * Yields the session as stored now, then again each time its state or
   * final status changes, and returns after yielding a final session.
   * Returns quietly when `signal` aborts (the caller went away or its own
   * deadline passed: the adapter tells which). Throws AppError only:
   * SESSION_NOT_FOUND, STORE_UNAVAILABLE (the first read), WATCHES_EXHAUSTED,
   * WATCH_EXPIRED, SHUTTING_DOWN.
   */
  watch(invoiceId: string, signal: AbortSignal): AsyncGenerator<SessionView, void, undefined>;
  /** Watches open now (the cp_watches_open gauge). */
  readonly open: number;
}

const fingerprint = (s: StoredSession) => `${s.state}\u0000${s.finalStatus ?? ""}`;

/** Builds the watcher over the store and its SessionChanges. */
export function createSessionWatcher(deps: SessionWatchDeps): SessionWatcher {
  let open = 0;

  async function read(invoiceId: string): Promise<StoredSession> {
    const found = await deps.sessions
      .findStoredSession(invoiceId)
      .catch((e: unknown) =>
        rethrowStoreFailure(e, "The session store is unavailable; nothing is being watched. Retry later."),
      );
    if (!found) throw new AppError("SESSION_NOT_FOUND", `No session has invoice id ${invoiceId}.`);
    return found;
  }

  async function* run(invoiceId: string, signal: AbortSignal): AsyncGenerator<SessionView, void, undefined> {
    if (invoiceId === "") throw new AppError("FIELD_REQUIRED", "invoiceId is required.");
    if (deps.stopping.aborted) throw shuttingDown();
    if (open >= deps.maxWatches) {
      throw new AppError("WATCHES_EXHAUSTED", "The server is at its limit of open watches; retry later.", {
        logDetail: `maxWatches ${deps.maxWatches} reached`,
      });
    }
    open++;
    // Woken by an announcement, the poll, the cap, the caller or the server stopping.
    let due = false;
    let expired = false;
    let wake: (() => void) | undefined;
    const poke = () => {
      due = true;
      wake?.();
    };
    // Before the first read: a change between that read and listening is never lost.
    const unlisten = deps.changes.listen(invoiceId, poke);
    const poll = setInterval(poke, deps.pollMs);
    const cap = setTimeout(() => {
      expired = true;
      poke();
    }, deps.maxMs);
    signal.addEventListener("abort", poke);
    deps.stopping.addEventListener("abort", poke);
    try {
      let last = await read(invoiceId);
      yield view(last);
      while (last.state !== "final") {
        if (!due && !signal.aborted && !deps.stopping.aborted) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
        due = false;
        if (signal.aborted) return;
        if (deps.stopping.aborted) throw shuttingDown();
        if (expired) {
          throw new AppError("WATCH_EXPIRED", `The watch reached the server's limit of ${deps.maxMs / 1000} s.`);
        }
        const now = await read(invoiceId).catch((e: unknown) => {
          // A store away for a while is waited out: the next poll reads again.
          if (e instanceof AppError && e.cause instanceof StoreUnavailableError) return undefined;
          throw e;
        });
        if (now && fingerprint(now) !== fingerprint(last)) {
          last = now;
          yield view(now);
        }
      }
    } catch (e) {
      throw toAppError(e);
    } finally {
      open--;
      unlisten();
      clearInterval(poll);
      clearTimeout(cap);
      signal.removeEventListener("abort", poke);
      deps.stopping.removeEventListener("abort", poke);
    }
  }

  return {
    watch: run,
    get open() {
      return open;
    },
  };
}

function shuttingDown(): AppError {
  return new AppError("SHUTTING_DOWN", "The server is shutting down; watch again on another instance.");
}
