/**
 * The eight targets, in the order they run. 1-4 and 8 are this server (the
 * built dist/src/main.js with a generated configuration); 5-7 are the
 * baselines. Target 8 loads the gateway's check sale instead of the initiate.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configFileSchema } from "../../dist/src/config/config-schema.js";
import { BENCH_ENDPOINT } from "../targets/baseline-work.mjs";

/**
 * Writes this server's configuration for one target: an ephemeral port, a new
 * SQLite file, the bench endpoint, info logging as in production, and open
 * token issuance when the configuration schema knows that key.
 */
function serverConfig(work, id, durability) {
  const config = {
    server: { host: "127.0.0.1", port: 0 },
    store: { sqlite: join(work, `target-${id}`, "bench.db"), durability },
    endpoints: [
      {
        id: BENCH_ENDPOINT.id,
        controlKey: BENCH_ENDPOINT.controlKeyText,
        operations: ["sale", "verification"],
        currencies: ["EUR", "USD"],
      },
    ],
    log: { level: "info" },
  };
  const withAuth = { ...config, auth: { openIssuance: true } };
  const chosen = configFileSchema.safeParse(withAuth).success ? withAuth : config;
  const path = join(work, `target-${id}.config.json`);
  writeFileSync(path, JSON.stringify(chosen, null, 2));
  return ["--config", path];
}

const MAIN = "dist/src/main.js";
const JSON_PATH = "/sale/initiate-sale";

/** Every target: how to start it and how to load it. */
export const TARGETS = [
  {
    id: 1,
    name: "this server, JSON path, durable store (WAL fdatasync before each answer)",
    short: "server JSON durable",
    protocol: "HTTP/1.1 JSON",
    ours: true,
    script: MAIN,
    args: (work) => serverConfig(work, 1, "full"),
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 2,
    name: "this server, JSON path, fastest safe store (synchronous=NORMAL)",
    short: "server JSON fast",
    protocol: "HTTP/1.1 JSON",
    ours: true,
    script: MAIN,
    args: (work) => serverConfig(work, 2, "normal"),
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 3,
    name: "this server, gRPC InitiateService/Sale, durable store",
    short: "server gRPC",
    protocol: "gRPC h2c",
    ours: true,
    script: MAIN,
    args: (work) => serverConfig(work, 3, "full"),
    load: "grpc",
  },
  {
    id: 4,
    name: "this server, Connect protocol JSON, durable store",
    short: "server Connect JSON",
    protocol: "HTTP/1.1 Connect",
    ours: true,
    script: MAIN,
    args: (work) => serverConfig(work, 4, "full"),
    load: "json",
    path: "/toptechpay.initiate.v1.InitiateService/Sale",
    headers: { "connect-protocol-version": "1" },
  },
  {
    id: 5,
    name: "baseline bare node:http, same work, no store",
    short: "bare node:http",
    protocol: "HTTP/1.1 JSON",
    script: "bench/targets/bare-node.mjs",
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 6,
    name: "baseline Fastify, same work, no store",
    short: "Fastify",
    protocol: "HTTP/1.1 JSON",
    script: "bench/targets/fastify.mjs",
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 7,
    name: "baseline @grpc/grpc-js, same work, no store",
    short: "@grpc/grpc-js",
    protocol: "gRPC h2c",
    script: "bench/targets/grpc-js.mjs",
    load: "grpc",
  },
  {
    id: 8,
    name: "this server, JSON check sale, durable store",
    short: "server check durable",
    protocol: "HTTP/1.1 JSON",
    ours: true,
    script: MAIN,
    args: (work) => serverConfig(work, 8, "full"),
    // Each request checks (and binds) a session initiated before the run: bench/lib/checks.mjs.
    load: "check",
  },
];
