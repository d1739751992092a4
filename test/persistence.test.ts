/**
 * Every answered session is in the SQLite file when the answer arrives, and
 * survives a restart of the server on the same file. The file is read with
 * better-sqlite3 read-only, not through the server's store.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromJson, type JsonObject } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { InitiateService, VerificationRequestSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type Answer, SERIAL, saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, TEST_ENDPOINT_ID, type TestServer } from "./support/test-server.js";

const dir = mkdtempSync(join(tmpdir(), "cp-persist-"));
const servers: TestServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

function readRow(path: string, invoiceId: string): Record<string, unknown> | undefined {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return db.prepare("SELECT * FROM sessions WHERE invoice_id = ?").get(invoiceId) as Record<string, unknown>;
  } finally {
    db.close();
  }
}

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

describe("session persistence in SQLite", () => {
  let sale: Answer;
  let verification: Answer;
  let token: string;

  it("has the session row in the file as soon as the 200 arrives", async () => {
    const s = await startTestServer({ dir });
    servers.push(s);
    token = s.accessToken;
    const res = await fetch(`${s.url}/sale/initiate-sale`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(saleBody(token)),
    });
    expect(res.status).toBe(200);
    sale = (await res.json()) as Answer;

    const row = readRow(s.sqlitePath, sale.invoiceId);
    expect(row).toMatchObject({
      invoice_id: sale.invoiceId,
      operation: "sale",
      endpoint_id: TEST_ENDPOINT_ID,
      nonce: sale.session.nonce,
      signature: sale.session.signature,
      amount_centis: 1015,
      currency: "EUR",
      serial_number: SERIAL,
      imei: "356938035643809",
      lat: 46.05,
      lng: 14.5,
      access_token_hash: sha256(token),
    });
    expect(JSON.parse(String(row?.ip_addresses))).toEqual(["192.0.2.10"]);
    expect(Number(row?.created_at_ms)).toBeGreaterThan(Date.now() - 60_000);
    expect(Object.values(row ?? {})).not.toContain(token);
  });

  it("stores a verification started over gRPC the same way, without an amount", async () => {
    const s = servers[0] as TestServer;
    const client = createClient(InitiateService, createGrpcTransport({ baseUrl: s.url }));
    verification = (await client.verification(
      fromJson(VerificationRequestSchema, verificationBody(token) as JsonObject),
    )) as Answer;
    expect(readRow(s.sqlitePath, verification.invoiceId)).toMatchObject({
      operation: "verification",
      nonce: verification.session.nonce,
      signature: verification.session.signature,
      amount_centis: null,
      currency: "USD",
      imei: null,
      lat: null,
      lng: null,
      ip_addresses: "[]",
      access_token_hash: sha256(token),
    });
  });

  it("never writes the raw access token to the database files", async () => {
    const s = servers[0] as TestServer;
    for (const file of [s.sqlitePath, `${s.sqlitePath}-wal`]) {
      if (existsSync(file)) expect(readFileSync(file).includes(Buffer.from(token)), file).toBe(false);
    }
  });

  it("keeps the rows after server.close() and reads them back in a new server on the same file", async () => {
    const first = servers[0] as TestServer;
    await first.server.close();
    const again = await startTestServer({ dir });
    servers.push(again);
    expect(again.sqlitePath).toBe(first.sqlitePath);

    expect(readRow(again.sqlitePath, sale.invoiceId)).toMatchObject({ nonce: sale.session.nonce });
    const found = await again.server.store.findSession(sale.invoiceId);
    expect(found).toMatchObject({
      invoiceId: sale.invoiceId,
      operation: "sale",
      endpointId: TEST_ENDPOINT_ID,
      nonce: sale.session.nonce,
      signature: sale.session.signature,
      amountCentis: 1015,
      currency: "EUR",
      serialNumber: SERIAL,
      imei: "356938035643809",
      ipAddresses: ["192.0.2.10"],
      location: { lat: 46.05, lng: 14.5 },
      accessTokenHash: sha256(token),
    });
    expect(found?.createdAt).toBeInstanceOf(Date);
    expect(await again.server.store.findSession(verification.invoiceId)).toMatchObject({
      operation: "verification",
      amountCentis: undefined,
    });
    expect(await again.server.store.findSession("00000000-0000-4000-8000-000000000000")).toBeUndefined();
  });
});

describe("SQLite durability settings", () => {
  // Durable mode acknowledges after its own fdatasync of the WAL; the
  // connection itself must stay at NORMAL in both modes, or every commit
  // would also fsync on the event loop. SQLite applies "PRAGMA synchronous"
  // when a statement is compiled, which once silently left it at FULL.
  it.each(["full", "normal"] as const)("keeps the connection at synchronous=NORMAL in %s mode", async (durability) => {
    const dir = mkdtempSync(join(tmpdir(), "cp-sync-"));
    const { openSqliteStore } = await import("../src/store/sqlite/store.js");
    const store = openSqliteStore({ path: join(dir, "s.db"), durability });
    try {
      const tokens = await import("../src/core/access-tokens.js");
      await tokens.createAccessTokens({ store, defaultLifetimeSeconds: 60 }).issue("SN-1");
      expect(store.db.pragma("synchronous", { simple: true })).toBe(1);
      expect(store.db.pragma("journal_mode", { simple: true })).toBe("wal");
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
