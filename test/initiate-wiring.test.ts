/**
 * The access-token check is a required dependency of the core: a wiring that
 * leaves it out cannot start sessions with unchecked tokens. Real SQLite
 * store, real token service; no server needed for what the core decides.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAccessTokens } from "../src/core/access-tokens.js";
import { createEndpointDirectory } from "../src/core/endpoints.js";
import { AppError } from "../src/core/error-catalogue.js";
import { createInitiator, type InitiatorDeps } from "../src/core/initiator.js";
import { controlKeyFromText } from "../src/core/signature.js";
import { openSqliteStore } from "../src/store/sqlite/store.js";
import { SERIAL, saleBody } from "./support/initiate-fixtures.js";

describe("the core's access-token check is required", () => {
  let dir: string;
  let store: ReturnType<typeof openSqliteStore>;
  const endpoints = createEndpointDirectory([
    {
      id: "1111",
      controlKey: controlKeyFromText("B17F59B4-A7DC-41B4-8FF9-37D986B43D20"),
      operations: ["sale", "verification"],
      currencies: undefined,
    },
  ]);
  const rows = () => (store.db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cp-wiring-"));
    store = openSqliteStore({ path: join(dir, "s.db") });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("refuses to build without it, even from a caller that bypasses the types", () => {
    const deps = { endpoints, store } as unknown as InitiatorDeps;
    expect(() => createInitiator(deps)).toThrow(/checkAccessToken is required/);
  });

  it("runs the real token check: an unknown token is refused and nothing is stored; an issued one starts a session", async () => {
    const tokens = createAccessTokens({ store });
    const service = createInitiator({ endpoints, store, checkAccessToken: tokens.check });
    const before = rows();
    const refused = await service.initiate("sale", saleBody("A".repeat(64))).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe("ACCESS_TOKEN_INVALID");
    expect(rows()).toBe(before);

    const { accessToken } = await tokens.issue(SERIAL);
    const result = await service.initiate("sale", saleBody(accessToken));
    expect(await store.findSession(result.invoiceId)).toMatchObject({ serialNumber: SERIAL });
    expect(rows()).toBe(before + 1);
  });
});
