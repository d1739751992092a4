/**
 * What the velocity filter asks of durable storage: record an attempt and
 * count the attempts in a sliding window. It goes through the store (not
 * memory) so that several server instances sharing one PostgreSQL database
 * enforce one limit together. SQLite implements it in
 * `src/store/sqlite/velocity-queries.ts` (PostgreSQL: `src/store/postgres/velocity-queries.ts`).
 *
 * Which attempts are recorded is the filter's choice, not the store's: every
 * attempt that reaches the velocity rule is recorded, including the ones the
 * rule then refuses (see `src/core/filters/velocity.ts`).
 */

/**
 * What an attempt is counted under: the device's serial number, the SHA-256
 * hex of the access token (never the token), or one IPv4 address.
 */
export type VelocityDimension = "device" | "token" | "ip";

/** One (dimension, key) to record an attempt under and count. */
export interface VelocityEvent {
  readonly dimension: VelocityDimension;
  readonly key: string;
  /** Start of this dimension's window (exclusive): attempts at or before it are not counted. */
  readonly since: Date;
}

/** Durable attempt counting. Rejects with StoreUnavailableError when storage cannot be reached. */
export interface VelocityStore {
  /**
   * Records one attempt at time `at` under each event's (dimension, key), then
   * resolves with, in the same order as `events`, how many attempts are
   * recorded under that (dimension, key) with `since < time <= at`, this one
   * included (so the first attempt counts 1).
   *
   * Contract for implementations shared by several instances: the new rows
   * must be visible to other instances before counting (commit the insert,
   * then count; or count in the same transaction under a lock on the keys).
   * Then two racing attempts may both see each other, and both be refused at
   * the boundary, but never both pass beyond the limit.
   *
   * `events` never holds the same (dimension, key) twice.
   */
  recordVelocity(events: readonly VelocityEvent[], at: Date): Promise<number[]>;
  /**
   * Deletes attempts recorded at or before `before`; resolves with how many.
   * Called now and then by the filter with the oldest start of any window.
   */
  pruneVelocity(before: Date): Promise<number>;
}
