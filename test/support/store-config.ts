/**
 * The `store` section of a configuration, built by the real config loader,
 * for tests that open a store directly (openStore) without a server.
 */
import { tmpdir } from "node:os";
import { buildConfig, type Config } from "../../src/config/load-config.js";

/** The store section as the server gets it, through the real config loader. */
export function storeConfig(store: Record<string, unknown>): Config["store"] {
  const config = buildConfig(
    { store, endpoints: [{ id: "1", controlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20", operations: ["sale"] }] },
    { env: {}, baseDir: tmpdir() },
  );
  return config.store;
}
