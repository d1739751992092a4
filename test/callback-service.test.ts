/**
 * The core's callback service over a real SQLite store: who is told of a
 * change. Only a callback that set a session's final status announces it
 * (SessionChanges, which WatchSession listens to); a duplicate, an unmatched
 * callback and a second status for a final session change nothing, so they
 * announce nothing. (No SessionChanges exists yet in this branch: a recorder
 * stands in for the watchers.)
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { buildConfig } from "../src/config/load-config.js";
import { type CallbackCount, createCallbackService } from "../src/core/callback-service.js";
import { createEndpointDirectory } from "../src/core/endpoints.js";
import { drawNonce } from "../src/core/session-ids.js";
import { type AppStore, openStore } from "../src/store/open-store.js";
import { TEST_CONTROL_KEY, TEST_ENDPOINT_ID } from "./support/test-server.js";

let dir: string;
let store: AppStore;
const announced: string[] = [];
const counted: CallbackCount[] = [];
let service: ReturnType<typeof createCallbackService>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cp-callback-core-"));
  const config = buildConfig(
    {
      store: { sqlite: join(dir, "proxy.db") },
      endpoints: [{ id: TEST_ENDPOINT_ID, controlKey: TEST_CONTROL_KEY, operations: ["sale"] }],
    },
    { env: {}, baseDir: dir },
  );
  store = openStore(config.store);
  service = createCallbackService({
    endpoints: createEndpointDirectory(config.endpoints),
    store,
    changes: {
      announce: async (invoiceId) => void announced.push(invoiceId),
      listen: () => () => undefined,
    },
    count: (outcome) => void counted.push(outcome),
  });
});
afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});
function pairs(status: string, orderid: string, clientOrderId: string): [string, string][] {
  const control = createHash("sha1")
    .update(status + orderid + clientOrderId + TEST_CONTROL_KEY)
    .digest("hex");
  return [
    ["status", status],
    ["type", "sale"],
    ["orderid", orderid],
    ["client_orderid", clientOrderId],
    ["control", control],
  ];
}

it("announces a session only when a callback made it final", async () => {
  const invoiceId = randomUUID();
  await store.insertSession({
    invoiceId,
    operation: "sale",
    endpointId: TEST_ENDPOINT_ID,
    nonce: drawNonce(),
    signature: "A".repeat(40),
    amountCentis: 100,
    currency: "EUR",
    serialNumber: "SN-CORE",
    imei: undefined,
    ipAddresses: [],
    location: undefined,
    accessTokenHash: "f".repeat(64),
    createdAt: new Date(),
  });
  const first = await service.receive(TEST_ENDPOINT_ID, pairs("approved", "1", invoiceId));
  expect(first).toMatchObject({ duplicate: false, invoiceId, finalized: true, orderId: "1" });
  await service.receive(TEST_ENDPOINT_ID, pairs("approved", "1", invoiceId));
  await service.receive(TEST_ENDPOINT_ID, pairs("declined", "2", invoiceId));
  await service.receive(TEST_ENDPOINT_ID, pairs("approved", "3", randomUUID()));
  expect(announced).toEqual([invoiceId]);
  expect(counted).toEqual(["stored", "duplicate", "stored", "unmatched"]);
});
