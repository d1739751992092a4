/**
 * What the core asks of durable storage for access tokens. Tokens live in the
 * same store as sessions (SQLite or PostgreSQL), so a token issued before a
 * restart, or by another instance, is still good.
 */

/** One issued token. Only the SHA-256 of the token is ever stored. */
export interface AccessTokenRecord {
  /** SHA-256 of the token, hex. */
  readonly tokenHash: string;
  readonly serialNumber: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
  /** Undefined while the token is not revoked. */
  readonly revokedAt: Date | undefined;
}

/** Durable storage of access tokens. Rejects with StoreUnavailableError when unreachable. */
export interface AccessTokenStore {
  /** Stores a new token; resolves once committed. */
  insertToken(record: AccessTokenRecord): Promise<void>;
  /** The token with this hash, or undefined. */
  findToken(tokenHash: string): Promise<AccessTokenRecord | undefined>;
  /** Marks one token revoked; resolves true when it existed and was not revoked yet. */
  revokeToken(tokenHash: string, at: Date): Promise<boolean>;
  /** Revokes every unrevoked token of a device; resolves with how many. */
  revokeDeviceTokens(serialNumber: string, at: Date): Promise<number>;
}
