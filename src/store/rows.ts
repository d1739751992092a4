/**
 * Each table's columns and its row <-> record conversion, written once for
 * both stores. The stores differ only in how a few kinds of value travel
 * through their driver (a `Dialect`): SQLite keeps times as integer
 * milliseconds in `<name>_ms` columns and lists as JSON text; PostgreSQL has
 * TIMESTAMPTZ, TEXT[] and BIGINT (which `pg` returns as a string). Queries
 * select every time column under its plain name, so one row type serves both.
 */
import type { AccessTokenRecord } from "../core/access-token-store.js";
import type { Operation } from "../core/initiate-request.js";
import type { SessionState, StoredSession } from "../core/session-state.js";
import type { SessionRecord } from "../core/session-store.js";

/** How one database's driver carries the values that differ between the stores. */
export interface Dialect<Time, List, BigInt> {
  /** The column that stores the time called `name` in the shared row type. */
  timeColumn(name: string): string;
  /** The n-th (1-based) statement parameter. */
  parameter(n: number): string;
  toTime(at: Date): Time;
  fromTime(value: Time): Date;
  toList(items: readonly string[]): List;
  fromList(value: List): string[];
  fromBigInt(value: BigInt): number;
}

/**
 * A table's columns in statement order; the ones listed in `times` hold
 * times. `later` columns are read with the rest but not written by the
 * insert: they start at their default and change afterwards (a session's
 * state).
 */
export interface Table<Name extends string> {
  readonly name: string;
  readonly columns: readonly Name[];
  readonly later?: readonly Name[];
  readonly times: readonly Name[];
}

/** One row of `sessions`, as the shared SELECT returns it. */
export interface SessionRow<Time, List, BigInt> {
  invoice_id: string;
  operation: Operation;
  endpoint_id: string;
  nonce: string;
  signature: string;
  amount_centis: BigInt | null;
  currency: string;
  serial_number: string;
  imei: string | null;
  ip_addresses: List;
  lat: number | null;
  lng: number | null;
  access_token_hash: string;
  created_at: Time;
  state: SessionState;
  checked_at: Time | null;
  gateway_token_hash: string | null;
  final_status: string | null;
  gateway_order_id: string | null;
  final_at: Time | null;
}

/** One row of `access_tokens`, as the shared SELECT returns it. */
export interface TokenRow<Time> {
  token_hash: string;
  serial_number: string;
  issued_at: Time;
  expires_at: Time;
  revoked_at: Time | null;
}

/** The `sessions` table. */
export const SESSIONS: Table<keyof SessionRow<unknown, unknown, unknown>> = {
  name: "sessions",
  columns: [
    "invoice_id",
    "operation",
    "endpoint_id",
    "nonce",
    "signature",
    "amount_centis",
    "currency",
    "serial_number",
    "imei",
    "ip_addresses",
    "lat",
    "lng",
    "access_token_hash",
    "created_at",
  ],
  later: ["state", "checked_at", "gateway_token_hash", "final_status", "gateway_order_id", "final_at"],
  times: ["created_at", "checked_at", "final_at"],
};

/** The `access_tokens` table. */
export const ACCESS_TOKENS: Table<keyof TokenRow<unknown>> = {
  name: "access_tokens",
  columns: ["token_hash", "serial_number", "issued_at", "expires_at", "revoked_at"],
  times: ["issued_at", "expires_at", "revoked_at"],
};

function column<N extends string>(table: Table<N>, name: N, d: Dialect<unknown, unknown, unknown>): string {
  return table.times.includes(name) ? d.timeColumn(name) : name;
}

/** `INSERT INTO t (every column) VALUES (one parameter each)`, in `table.columns` order. */
export function insertStatement<N extends string>(table: Table<N>, d: Dialect<unknown, unknown, unknown>): string {
  const names = table.columns.map((c) => column(table, c, d));
  const params = names.map((_, i) => d.parameter(i + 1));
  return `INSERT INTO ${table.name} (${names.join(", ")}) VALUES (${params.join(", ")})`;
}

/** `SELECT` of every column (`later` ones included) under its shared name, `FROM` the table. */
export function selectAll<N extends string>(table: Table<N>, d: Dialect<unknown, unknown, unknown>): string {
  const list = [...table.columns, ...(table.later ?? [])].map((c) => {
    const stored = column(table, c, d);
    return stored === c ? c : `${stored} AS ${c}`;
  });
  return `SELECT ${list.join(", ")} FROM ${table.name}`;
}

/** `selectAll`, filtered on `key` = parameter 1. */
export function selectByKey<N extends string>(table: Table<N>, key: N, d: Dialect<unknown, unknown, unknown>): string {
  return `${selectAll(table, d)} WHERE ${column(table, key, d)} = ${d.parameter(1)}`;
}

/** A session's values in `SESSIONS.columns` order. */
export function sessionValues<T, L, B>(r: SessionRecord, d: Dialect<T, L, B>): unknown[] {
  return [
    r.invoiceId,
    r.operation,
    r.endpointId,
    r.nonce,
    r.signature,
    r.amountCentis ?? null,
    r.currency,
    r.serialNumber,
    r.imei ?? null,
    d.toList(r.ipAddresses),
    r.location?.lat ?? null,
    r.location?.lng ?? null,
    r.accessTokenHash,
    d.toTime(r.createdAt),
  ];
}

/** The session a row holds. */
export function sessionFromRow<T, L, B>(row: SessionRow<T, L, B>, d: Dialect<T, L, B>): SessionRecord {
  return {
    invoiceId: row.invoice_id,
    operation: row.operation,
    endpointId: row.endpoint_id,
    nonce: row.nonce,
    signature: row.signature,
    amountCentis: row.amount_centis === null ? undefined : d.fromBigInt(row.amount_centis),
    currency: row.currency,
    serialNumber: row.serial_number,
    imei: row.imei ?? undefined,
    ipAddresses: d.fromList(row.ip_addresses),
    location: row.lat === null || row.lng === null ? undefined : { lat: row.lat, lng: row.lng },
    accessTokenHash: row.access_token_hash,
    createdAt: d.fromTime(row.created_at),
  };
}

/** The session a row holds, with its state. */
export function storedSessionFromRow<T, L, B>(row: SessionRow<T, L, B>, d: Dialect<T, L, B>): StoredSession {
  return {
    ...sessionFromRow(row, d),
    state: row.state,
    checkedAt: row.checked_at === null ? undefined : d.fromTime(row.checked_at),
    gatewayTokenHash: row.gateway_token_hash ?? undefined,
    finalStatus: row.final_status ?? undefined,
    gatewayOrderId: row.gateway_order_id ?? undefined,
    finalAt: row.final_at === null ? undefined : d.fromTime(row.final_at),
  };
}

/** A token's values in `ACCESS_TOKENS.columns` order. */
export function tokenValues<T, L, B>(r: AccessTokenRecord, d: Dialect<T, L, B>): unknown[] {
  return [
    r.tokenHash,
    r.serialNumber,
    d.toTime(r.issuedAt),
    d.toTime(r.expiresAt),
    r.revokedAt === undefined ? null : d.toTime(r.revokedAt),
  ];
}

/** The token a row holds. */
export function tokenFromRow<T, L, B>(row: TokenRow<T>, d: Dialect<T, L, B>): AccessTokenRecord {
  return {
    tokenHash: row.token_hash,
    serialNumber: row.serial_number,
    issuedAt: d.fromTime(row.issued_at),
    expiresAt: d.fromTime(row.expires_at),
    revokedAt: row.revoked_at === null ? undefined : d.fromTime(row.revoked_at),
  };
}
