/**
 * Access tokens in PostgreSQL (table `access_tokens`, migration 2). No cache:
 * several instances share the table, so every check reads it and a
 * revocation through any instance holds at once.
 */
import type { AccessTokenStore } from "../../core/access-token-store.js";
import { ACCESS_TOKENS, insertStatement, selectByKey, type TokenRow, tokenFromRow, tokenValues } from "../rows.js";
import { POSTGRES, type PostgresQuery } from "./dialect.js";

/** The AccessTokenStore methods over the PostgreSQL store's query function. */
export function createPostgresTokenQueries(query: PostgresQuery): AccessTokenStore {
  const insert = insertStatement(ACCESS_TOKENS, POSTGRES);
  const select = selectByKey(ACCESS_TOKENS, "token_hash", POSTGRES);
  return {
    async insertToken(record) {
      await query(insert, tokenValues(record, POSTGRES));
    },
    async findToken(tokenHash) {
      const { rows } = await query<TokenRow<Date> & Record<string, unknown>>(select, [tokenHash]);
      return rows[0] && tokenFromRow(rows[0], POSTGRES);
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
  };
}
