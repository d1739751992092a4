/**
 * The one mapping from "storage is away" (StoreUnavailableError, raised by
 * the stores) to the catalogue's STORE_UNAVAILABLE, for every core path that
 * touches the store. Any other error passes through unchanged.
 */
import { AppError } from "./error-catalogue.js";
import { StoreUnavailableError } from "./session-store.js";

/** What a caller is told when nothing could be started. */
export const NOTHING_STARTED = "The session store is unavailable; nothing was started. Retry later.";

/**
 * Rethrows `e`: StoreUnavailableError as AppError STORE_UNAVAILABLE with
 * `message` (the store's reason goes to the log only, after `where` when
 * given); anything else as it is.
 */
export function rethrowStoreFailure(e: unknown, message: string, where?: string): never {
  if (e instanceof StoreUnavailableError) {
    throw new AppError("STORE_UNAVAILABLE", message, {
      logDetail: where === undefined ? e.message : `${where}: ${e.message}`,
      cause: e,
    });
  }
  throw e;
}
