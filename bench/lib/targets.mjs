/**
 * The eleven targets, in the order they run. 1-4 and 8 are this server (the
 * built dist/src/main.js with a generated configuration); 5-7 are the
 * baselines (same work, no store); 9-11 the peers, what a merchant's team
 * would write instead (same work, durable store). Targets 8 and 11 load the
 * gateway's check sale instead of the initiate. Every target with a store
 * gets a new SQLite file each round (`database`), which the bench reads for
 * the sanity check and the row count after the run.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { configFileSchema } from "../../dist/src/config/config-schema.js";
import { BENCH_ENDPOINT } from "../targets/baseline-work.mjs";
import { preparePeerDatabase } from "../targets/peer-store.mjs";
import { INVENTED_TOKEN, SERIAL_NUMBER } from "./requests.mjs";

const ourDatabase = (id) => (work, round) => join(work, `target-${id}-r${round}`, "bench.db");

/**
 * Writes this server's configuration for one target: an ephemeral port, a new
 * SQLite file, the bench endpoint, info logging as in production, and open
 * token issuance when the configuration schema knows that key.
 */
function serverConfig(work, round, id, durability) {
  const config = {
    server: { host: "127.0.0.1", port: 0 },
    store: { sqlite: ourDatabase(id)(work, round), durability },
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
  const path = join(work, `target-${id}-r${round}.config.json`);
  writeFileSync(path, JSON.stringify(chosen, null, 2));
  return ["--config", path];
}

/**
 * A peer's target fields: a new database file each round, prepared with the
 * token the bench sends (the invented one) for the bench device.
 */
function peer(id, script) {
  const database = (work, round) => join(work, `target-${id}-r${round}`, "peer.db");
  return {
    kind: "peer",
    script,
    database,
    args: (work, round) => {
      const path = database(work, round);
      mkdirSync(join(path, ".."), { recursive: true });
      preparePeerDatabase(path, INVENTED_TOKEN, SERIAL_NUMBER);
      return ["--db", path];
    },
  };
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
    kind: "ours",
    script: MAIN,
    args: (work, round) => serverConfig(work, round, 1, "full"),
    database: ourDatabase(1),
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 2,
    name: "this server, JSON path, fastest safe store (synchronous=NORMAL)",
    short: "server JSON fast",
    protocol: "HTTP/1.1 JSON",
    kind: "ours",
    script: MAIN,
    args: (work, round) => serverConfig(work, round, 2, "normal"),
    database: ourDatabase(2),
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 3,
    name: "this server, gRPC InitiateService/Sale, durable store",
    short: "server gRPC",
    protocol: "gRPC h2c",
    kind: "ours",
    script: MAIN,
    args: (work, round) => serverConfig(work, round, 3, "full"),
    database: ourDatabase(3),
    load: "grpc",
  },
  {
    id: 4,
    name: "this server, Connect protocol JSON, durable store",
    short: "server Connect JSON",
    protocol: "HTTP/1.1 Connect",
    kind: "ours",
    script: MAIN,
    args: (work, round) => serverConfig(work, round, 4, "full"),
    database: ourDatabase(4),
    load: "json",
    path: "/toptechpay.initiate.v1.InitiateService/Sale",
    headers: { "connect-protocol-version": "1" },
  },
  {
    id: 5,
    name: "baseline bare node:http, same work, no store",
    short: "bare node:http",
    protocol: "HTTP/1.1 JSON",
    kind: "baseline",
    script: "bench/targets/bare-node.mjs",
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 6,
    name: "baseline Fastify, same work, no store",
    short: "Fastify",
    protocol: "HTTP/1.1 JSON",
    kind: "baseline",
    script: "bench/targets/fastify.mjs",
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 7,
    name: "baseline @grpc/grpc-js, same work, no store",
    short: "@grpc/grpc-js",
    protocol: "gRPC h2c",
    kind: "baseline",
    script: "bench/targets/grpc-js.mjs",
    load: "grpc",
  },
  {
    id: 8,
    name: "this server, JSON check sale, durable store",
    short: "server check durable",
    protocol: "HTTP/1.1 JSON",
    kind: "ours",
    script: MAIN,
    args: (work, round) => serverConfig(work, round, 8, "full"),
    database: ourDatabase(8),
    // Each request checks (and binds) a session initiated before the run: bench/lib/checks.mjs.
    load: "check",
  },
  {
    id: 9,
    name: "peer: Fastify + better-sqlite3 + pino, JSON path, synchronous=FULL (WAL fsync per request)",
    short: "Fastify peer",
    protocol: "HTTP/1.1 JSON",
    ...peer(9, "bench/targets/fastify-peer.mjs"),
    load: "json",
    path: JSON_PATH,
  },
  {
    id: 10,
    name: "peer: @grpc/grpc-js + better-sqlite3 + pino, gRPC Sale, synchronous=FULL",
    short: "grpc-js peer",
    protocol: "gRPC h2c",
    ...peer(10, "bench/targets/grpc-js-peer.mjs"),
    load: "grpc",
  },
  {
    id: 11,
    name: "peer: Fastify + better-sqlite3 + pino, JSON check sale, one UPDATE per check",
    short: "Fastify peer check",
    protocol: "HTTP/1.1 JSON",
    ...peer(11, "bench/targets/fastify-peer.mjs"),
    load: "check",
  },
];
