/**
 * Rewrites the README's benchmark section (between its markers, nothing else)
 * with the chart and the latest table after a full run.
 */
import { readFileSync, writeFileSync } from "node:fs";

const START = "<!-- section:benchmark -->";
const END = "<!-- /section:benchmark -->";

/** Replaces the section's body; leaves the file alone when the markers are missing. */
export function updateReadme(path, markdown) {
  const text = readFileSync(path, "utf8");
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a === -1 || b < a) return false;
  const body = [
    "## Benchmark",
    "",
    "`npm run bench` starts each target in its own process and loads it the same way: this server's",
    "JSON path with the durable store (1) and the fastest safe store (2), its gRPC (3) and Connect (4)",
    "paths, and TopTechPay's check sale with the durable store (8), each check binding a session",
    "initiated before the run. Against it: **peers**, what a merchant's team would write instead in a",
    "day, doing the same work with a durable store: Fastify + better-sqlite3 + pino on the JSON path (9)",
    "and the check path (11), `@grpc/grpc-js` + the same store on gRPC (10). Each peer validates the",
    "documented body (Fastify's JSON schema; by hand for gRPC), looks the access token up in SQLite,",
    "stores the session (a check: binds the session token) in one transaction per request with",
    "`synchronous=FULL` in WAL mode (an fsync per commit on the event loop, no group commit), writes",
    "one pino line at info and answers with the real HMAC-SHA1 signature. They have no admission",
    "limit, deadline, metrics, request id, risk filters, token issuance or Connect protocol. The",
    "limit: bare `node:http` doing the same validation, ids and HMAC with no store and no log (5);",
    "Fastify (6) and `@grpc/grpc-js` (7) likewise without a store, kept for comparison with earlier",
    "runs. Every sanity answer's signature is verified, and every answered session must be a row in",
    'the target\'s SQLite file after the run (the "rows stored" column). Options, what each mode',
    "and peer does, and how to profile: [bench/README.md](bench/README.md).",
    "",
    "![Requests per second and p99 latency per target](bench/results/chart.svg)",
    "",
    markdown.trim(),
    "",
  ].join("\n");
  writeFileSync(path, `${text.slice(0, a + START.length)}\n${body}\n${text.slice(b)}`);
  return true;
}
