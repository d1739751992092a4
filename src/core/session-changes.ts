/**
 * Who hears that a session changed (checked, final), so WatchSession can
 * stream it: within the process on SQLite, across every instance on
 * PostgreSQL (LISTEN/NOTIFY). A change carries only the invoice id; a watcher
 * reads the session itself from the store, so what it sends is always what
 * is durably stored.
 */

/** Announcing and hearing session changes. */
export interface SessionChanges {
  /**
   * Tells every watcher of `invoiceId`, on every instance, that the session
   * changed. Called after the change is committed; never rejects (a lost
   * announcement is caught up by the watcher's own reads).
   */
  announce(invoiceId: string): Promise<void>;
  /** Calls `listener` on each announcement for `invoiceId` until the returned function is called. */
  listen(invoiceId: string, listener: () => void): () => void;
}
