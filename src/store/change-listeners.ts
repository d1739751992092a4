/**
 * The listeners of session changes, by invoice id: what both stores'
 * SessionChanges fan an announcement out to. A listener that throws never
 * stops the others (each watcher re-reads the store itself).
 */
import type { SessionChanges } from "../core/session-changes.js";

/** A store's SessionChanges, with the count of listeners (for metrics) and its end. */
export interface StoreSessionChanges extends SessionChanges {
  /** Listeners registered now. */
  readonly listeners: number;
  /** Stops listening for good (the store closes); later announcements reach nobody. */
  close(): Promise<void>;
}

/** Listeners by invoice id. */
export interface ChangeListeners {
  /** Adds `listener` for `invoiceId`; the returned function removes it (once). */
  add(invoiceId: string, listener: () => void): () => void;
  /** Calls every listener of `invoiceId`. */
  notify(invoiceId: string): void;
  /** Calls every listener once (after a reconnect: whatever was missed is re-read). */
  notifyAll(): void;
  /** Listeners registered now (the cp_session_change_listeners gauge). */
  readonly size: number;
}

function callSafely(listener: () => void): void {
  try {
    listener();
  } catch {
    // A watcher's own failure is its own; the others still hear the change.
  }
}

/** Creates an empty listener map. */
export function createChangeListeners(): ChangeListeners {
  const byInvoice = new Map<string, Set<() => void>>();
  let size = 0;
  return {
    add(invoiceId, listener) {
      // Wrapped, so one function listening twice counts (and is removed) twice.
      const entry = () => listener();
      let set = byInvoice.get(invoiceId);
      if (!set) {
        set = new Set();
        byInvoice.set(invoiceId, set);
      }
      set.add(entry);
      size++;
      let removed = false;
      return () => {
        if (removed) return;
        removed = true;
        size--;
        const current = byInvoice.get(invoiceId);
        current?.delete(entry);
        if (current?.size === 0) byInvoice.delete(invoiceId);
      };
    },
    notify(invoiceId) {
      const set = byInvoice.get(invoiceId);
      if (set) for (const listener of [...set]) callSafely(listener);
    },
    notifyAll() {
      for (const set of [...byInvoice.values()]) for (const listener of [...set]) callSafely(listener);
    },
    get size() {
      return size;
    },
  };
}
