/**
 * SessionChanges of the SQLite store: one process owns the file
 * (process-lock.ts), so every change is made, and every watcher listens, in
 * this process; an announcement is a call of the listeners, on the next turn
 * of the event loop so the announcing request never runs a watcher's code.
 */
import { createChangeListeners, type StoreSessionChanges } from "../change-listeners.js";

/** In-process SessionChanges. */
export function createInProcessSessionChanges(): StoreSessionChanges {
  const listeners = createChangeListeners();
  let closed = false;
  return {
    announce(invoiceId) {
      if (!closed) setImmediate(() => listeners.notify(invoiceId));
      return Promise.resolve();
    },
    listen: (invoiceId, listener) => listeners.add(invoiceId, listener),
    get listeners() {
      return listeners.size;
    },
    async close() {
      closed = true;
    },
  };
}
