/**
 * The schema, written once for both stores as numbered steps. Each step's SQL
 * is a function of the dialect's spelling (`SchemaDialect`): SQLite keeps
 * times as INTEGER milliseconds in `<name>_ms` and lists as JSON text in
 * STRICT tables; PostgreSQL has TIMESTAMPTZ, TEXT[], BIGINT. Each store
 * renders the list (sqlite/migrations.ts, postgres/migrations.ts) and applies
 * what its database has not recorded; test/schema-parity.test.ts applies both
 * to real databases and compares the results.
 *
 * Never change what an applied step builds: append a new step.
 */

/** One versioned schema step, as a store applies it. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** How one database spells what the two stores declare differently. */
export interface SchemaDialect {
  /** A whole number up to 2^53 (amounts). */
  readonly integer: string;
  /** A double. */
  readonly real: string;
  /** A list of strings. */
  readonly list: string;
  /** The declaration of the time column called `name` (name and type). */
  time(name: string): string;
  /** The time column called `name`, where an index names it. */
  timeColumn(name: string): string;
  /** Options after a table's closing parenthesis; `keyed`: a table read only by its text primary key. */
  tableOptions(keyed?: boolean): string;
  /**
   * ` WHERE <condition>` for an index PostgreSQL keeps partial; SQLite's
   * step 2 shipped its index whole, so it stays so.
   */
  partialIndex(condition: string): string;
}

interface SchemaStep {
  readonly version: number;
  readonly name: string;
  sql(d: SchemaDialect): string;
}

const STEPS: readonly SchemaStep[] = [
  {
    version: 1,
    name: "sessions",
    sql: (d) => `
      CREATE TABLE sessions (
        invoice_id        TEXT PRIMARY KEY,
        operation         TEXT NOT NULL CHECK (operation IN ('sale', 'verification')),
        endpoint_id       TEXT NOT NULL,
        nonce             TEXT NOT NULL UNIQUE,
        signature         TEXT NOT NULL,
        amount_centis     ${d.integer},
        currency          TEXT NOT NULL,
        serial_number     TEXT NOT NULL,
        imei              TEXT,
        ip_addresses      ${d.list} NOT NULL,
        lat               ${d.real},
        lng               ${d.real},
        access_token_hash TEXT NOT NULL,
        ${d.time("created_at")} NOT NULL
      )${d.tableOptions()};
      CREATE INDEX sessions_serial_created ON sessions (serial_number, ${d.timeColumn("created_at")});
    `,
  },
  {
    version: 2,
    name: "access_tokens",
    // Only the token's SHA-256 is kept; revoked_at is NULL while valid.
    sql: (d) => `
      CREATE TABLE access_tokens (
        token_hash    TEXT PRIMARY KEY,
        serial_number TEXT NOT NULL,
        ${d.time("issued_at")} NOT NULL,
        ${d.time("expires_at")} NOT NULL,
        ${d.time("revoked_at")}
      )${d.tableOptions(true)};
      CREATE INDEX access_tokens_serial ON access_tokens (serial_number)${d.partialIndex("revoked_at IS NULL")};
    `,
  },
  {
    version: 3,
    name: "velocity_events",
    // One row per attempt per (dimension, key) for the velocity filter; rows
    // older than the longest window are pruned, so the table stays small.
    sql: (d) => `
      CREATE TABLE velocity_events (
        dimension TEXT NOT NULL CHECK (dimension IN ('device', 'token', 'ip')),
        key       TEXT NOT NULL,
        ${d.time("at")} NOT NULL
      )${d.tableOptions()};
      CREATE INDEX velocity_events_key_at ON velocity_events (dimension, key, ${d.timeColumn("at")});
      CREATE INDEX velocity_events_at ON velocity_events (${d.timeColumn("at")});
    `,
  },
  {
    version: 4,
    name: "drop sessions_serial_created",
    // No query reads sessions by device (velocity has its own table), and
    // every index is one more B-tree written by each initiate.
    sql: () => "DROP INDEX IF EXISTS sessions_serial_created;",
  },
  {
    version: 5,
    name: "session state",
    // A session's life after initiate (core/session-state.ts). Rows written
    // before this step take the default: 'initiated'. gateway_token_hash is
    // the SHA-256 of TopTechPay's session token bound at the first check;
    // its unique index is partial, so an initiate (NULL) writes no entry in
    // it. The back office lists sessions newest first, all of them or one
    // device's, with (created_at, invoice_id) as the page cursor: one index
    // each (step 4 dropped the older device index, which had no invoice_id).
    sql: (d) => `
      ALTER TABLE sessions ADD COLUMN state TEXT NOT NULL DEFAULT 'initiated'
        CHECK (state IN ('initiated', 'checked', 'final'));
      ALTER TABLE sessions ADD COLUMN ${d.time("checked_at")};
      ALTER TABLE sessions ADD COLUMN gateway_token_hash TEXT;
      CREATE UNIQUE INDEX sessions_gateway_token ON sessions (gateway_token_hash)
        WHERE gateway_token_hash IS NOT NULL;
      CREATE INDEX sessions_created ON sessions (${d.timeColumn("created_at")}, invoice_id);
      CREATE INDEX sessions_serial_created ON sessions (serial_number, ${d.timeColumn("created_at")}, invoice_id);
    `,
  },
  {
    version: 6,
    name: "card references, final status, callbacks",
    // Card references TopTechPay created (card mapping notifications), one
    // row per card per device, named to the app by a clientCardId this
    // server drew. A deleted card keeps its row (deleted_at set) for the
    // audit trail; a device has at most one live card per serverCardId, so a
    // redelivered notification finds the card it stored before.
    // unique_reference_card_id is kept as decimal text: the gateway's is a
    // Java long, which a double cannot always hold.
    // A session's final status and the gateway's order id come from the
    // final-status callback; every callback is kept, once per duplicate key
    // (status, type, orderid, client_orderid), matched to a session or not.
    sql: (d) => `
      CREATE TABLE device_cards (
        client_card_id           TEXT PRIMARY KEY,
        serial_number            TEXT NOT NULL,
        server_card_id           TEXT NOT NULL,
        unique_reference_card_id TEXT,
        bin                      ${d.integer},
        operation                TEXT NOT NULL CHECK (operation IN ('sale', 'verification')),
        invoice_id               TEXT NOT NULL,
        ${d.time("created_at")} NOT NULL,
        ${d.time("deleted_at")}
      )${d.tableOptions()};
      CREATE UNIQUE INDEX device_cards_live ON device_cards (serial_number, server_card_id)
        WHERE ${d.timeColumn("deleted_at")} IS NULL;
      CREATE INDEX device_cards_serial ON device_cards (serial_number, ${d.timeColumn("created_at")});
      ALTER TABLE sessions ADD COLUMN final_status TEXT;
      ALTER TABLE sessions ADD COLUMN gateway_order_id TEXT;
      ALTER TABLE sessions ADD COLUMN ${d.time("final_at")};
      CREATE TABLE gateway_callbacks (
        callback_id    TEXT PRIMARY KEY,
        endpoint_id    TEXT NOT NULL,
        status         TEXT NOT NULL,
        type           TEXT NOT NULL,
        orderid        TEXT NOT NULL,
        client_orderid TEXT NOT NULL,
        merchant_order TEXT,
        amount         TEXT,
        params         TEXT NOT NULL,
        invoice_id     TEXT,
        deliveries     ${d.integer} NOT NULL DEFAULT 1,
        ${d.time("received_at")} NOT NULL,
        ${d.time("last_received_at")} NOT NULL
      )${d.tableOptions()};
      CREATE UNIQUE INDEX gateway_callbacks_duplicate_key
        ON gateway_callbacks (status, type, orderid, client_orderid);
      CREATE INDEX gateway_callbacks_invoice ON gateway_callbacks (invoice_id);
    `,
  },
];

/** Every step in `d`'s spelling, oldest first. */
export function migrationsFor(d: SchemaDialect): readonly Migration[] {
  return STEPS.map((s) => ({ version: s.version, name: s.name, sql: s.sql(d) }));
}
