/**
 * Velocity counting in PostgreSQL (table `velocity_events`, migration 3).
 * The attempt's rows are inserted and committed first, then counted in a
 * second statement, so every instance sharing the database sees them before
 * it counts: two racing attempts may both count each other (and both be
 * refused at the limit), but never both pass beyond it.
 */
import type { VelocityStore } from "../../core/velocity-store.js";
import type { PostgresQuery } from "./dialect.js";

/** The VelocityStore methods over the PostgreSQL store's query function. */
export function createPostgresVelocityQueries(query: PostgresQuery): VelocityStore {
  return {
    async recordVelocity(events, at) {
      if (events.length === 0) return [];
      const dims = events.map((e) => e.dimension);
      const keys = events.map((e) => e.key);
      await query(
        "INSERT INTO velocity_events (dimension, key, at) SELECT d, k, $3 FROM unnest($1::text[], $2::text[]) AS t(d, k)",
        [dims, keys, at],
      );
      // One statement counts every (dimension, key) in the order asked.
      const { rows } = await query(
        `SELECT (SELECT count(*) FROM velocity_events v
                  WHERE v.dimension = t.d AND v.key = t.k AND v.at > t.since AND v.at <= $4) AS n
           FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY AS t(d, k, since, i)
          ORDER BY t.i`,
        [dims, keys, events.map((e) => e.since), at],
      );
      return rows.map((r) => Number(r.n));
    },
    async pruneVelocity(before) {
      const { rowCount } = await query("DELETE FROM velocity_events WHERE at <= $1", [before]);
      return rowCount ?? 0;
    },
  };
}
