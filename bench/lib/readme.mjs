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
    "paths, and three baselines doing the same validation, nonce, UUID, HMAC and answer with no store:",
    "bare `node:http` (5), Fastify (6) and `@grpc/grpc-js` (7); and TopTechPay's check sale with the",
    "durable store (8), each check binding a session initiated before the run. Options, what each mode",
    "means and how to profile: [bench/README.md](bench/README.md).",
    "",
    "![Requests per second and p99 latency per target](bench/results/chart.svg)",
    "",
    markdown.trim(),
    "",
  ].join("\n");
  writeFileSync(path, `${text.slice(0, a + START.length)}\n${body}\n${text.slice(b)}`);
  return true;
}
