/**
 * Access tokens in PostgreSQL (table `access_tokens`, migration 2). No cache:
 * several instances share the table, so every check reads it and a
 * revocation through any instance holds at once.
 */
import type { AccessTokenRecord, AccessTokenStore } from "../../core/access-token-store.js";
import { ACCESS_TOKENS, type TokenRow, tokenFromRow, tokenValues } from "../rows.js";
import { keyedRows, POSTGRES, type PostgresQuery } from "./dialect.js";

/** The AccessTokenStore methods over the PostgreSQL store's query function. */
export function createPostgresTokenQueries(query: PostgresQuery): AccessTokenStore {
  const tokens = keyedRows(
    query,
    ACCESS_TOKENS,
    "token_hash",
    (record: AccessTokenRecord) => tokenValues(record, POSTGRES),
    (row: TokenRow<Date>) => tokenFromRow(row, POSTGRES),
  );
  return {
    insertToken: tokens.insert,
    findToken: tokens.find,
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
