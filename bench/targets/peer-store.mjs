/**
 * The peers' store (targets 9-11): what a team would write in a day with
 * better-sqlite3. WAL journal with `synchronous = FULL`, so every commit
 * fsyncs the WAL before better-sqlite3 returns (on the event loop, no group
 * commit); each statement runs on its own, so each request's write is one
 * transaction. Only the SHA-256 of a token is kept, as in this server.
 */
import { createHash } from "node:crypto";
import Database from "better-sqlite3";

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS access_tokens (
    token_hash    TEXT PRIMARY KEY,
    serial_number TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    revoked_at    INTEGER
  );
  CREATE TABLE IF NOT EXISTS sessions (
    invoice_id         TEXT PRIMARY KEY,
    endpoint_id        TEXT NOT NULL,
    nonce              TEXT NOT NULL UNIQUE,
    signature          TEXT NOT NULL,
    amount_centis      INTEGER NOT NULL,
    currency           TEXT NOT NULL,
    serial_number      TEXT NOT NULL,
    imei               TEXT,
    ip_addresses       TEXT NOT NULL,
    lat                REAL,
    lng                REAL,
    access_token_hash  TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    gateway_token_hash TEXT UNIQUE,
    checked_at         INTEGER
  );
`;

/** SHA-256 of a token, hex: what the tables keep instead of the token. */
export const sha256 = (text) => createHash("sha256").update(text, "utf8").digest("hex");

function open(path) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 2000");
  db.exec(SCHEMA);
  return db;
}

/**
 * Run by the bench before it starts a peer: a new database file holding the
 * schema and one access token for the bench device, valid for a day.
 */
export function preparePeerDatabase(path, accessToken, serialNumber) {
  const db = open(path);
  db.prepare("INSERT INTO access_tokens (token_hash, serial_number, expires_at) VALUES (?, ?, ?)").run(
    sha256(accessToken),
    serialNumber,
    Date.now() + 86_400_000,
  );
  db.close();
}

/** The peer's side: the open database and its prepared statements. */
export function openPeerStore(path) {
  const db = open(path);
  const findToken = db.prepare("SELECT serial_number, expires_at, revoked_at FROM access_tokens WHERE token_hash = ?");
  const insertSession = db.prepare(`INSERT INTO sessions (invoice_id, endpoint_id, nonce, signature, amount_centis,
    currency, serial_number, imei, ip_addresses, lat, lng, access_token_hash, created_at)
    VALUES (@invoiceId, @endpointId, @nonce, @signature, @amountCentis, @currency, @serialNumber, @imei,
    @ipAddresses, @lat, @lng, @accessTokenHash, @createdAt)`);
  const findSession = db.prepare(`SELECT s.invoice_id, s.endpoint_id, s.nonce, s.signature, s.serial_number,
    s.access_token_hash, s.created_at, s.gateway_token_hash, t.revoked_at
    FROM sessions s LEFT JOIN access_tokens t ON t.token_hash = s.access_token_hash WHERE s.invoice_id = ?`);
  const bindToken = db.prepare(
    "UPDATE sessions SET gateway_token_hash = ?, checked_at = ? WHERE invoice_id = ? AND gateway_token_hash IS NULL",
  );
  return {
    findToken: (hash) => findToken.get(hash),
    insertSession: (row) => insertSession.run(row),
    findSession: (invoiceId) => findSession.get(invoiceId),
    /** True when this call bound the token (one UPDATE, one durable commit). */
    bindToken: (invoiceId, tokenHash, at) => bindToken.run(tokenHash, at, invoiceId).changes === 1,
    close: () => db.close(),
  };
}
