/**
 * The load drivers: autocannon for HTTP/1.1 (in this process) and h2load for
 * gRPC over h2c (a child process). Both count only 2xx answers as served,
 * report everything else as errors, and give p50/p99/p99.9 latency in ms.
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import autocannon from "autocannon";

/**
 * Runs autocannon against one URL with a fixed body, or with `requests`
 * (autocannon's request list, e.g. one whose setupRequest varies path and body
 * per request). Resolves with the figures of the run (only 2xx answers count
 * as served requests).
 */
export async function runAutocannon({ url, headers, body, requests, connections, duration }) {
  const result = await autocannon({
    url,
    method: "POST",
    headers,
    body,
    requests,
    connections,
    duration,
    pipelining: 1,
    timeout: 10,
  });
  const seconds = result.duration || duration;
  return {
    driver: "autocannon",
    durationS: round(seconds, 2),
    ok: result["2xx"],
    requestsPerSecond: round(result["2xx"] / seconds, 0),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, p999: result.latency.p99_9 },
    errors: {
      non2xx: result.non2xx,
      socket: result.errors,
      timeouts: result.timeouts,
      statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    },
  };
}

/**
 * Runs h2load: `connections` clients, one stream each (like autocannon's one
 * request in flight per connection), POSTing the framed body with gRPC
 * headers. Every request is read back from h2load's per-request log, so the
 * percentiles and the 2xx count are exact.
 */
export async function runH2load({ url, bodyFile, headers, connections, duration, logFile }) {
  // h2load appends to an existing log file; a stale one would count an earlier run's requests.
  rmSync(logFile, { force: true });
  const args = ["-c", String(connections), "-m", "1", "-t", "1", "-D", String(duration), "-d", bodyFile];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  args.push("--log-file", logFile, url);
  const stdout = await run("h2load", args);
  const summary =
    /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(
      stdout,
    );
  if (!summary) throw new Error(`h2load printed no summary: ${stdout.slice(-500)}`);
  const latencies = [];
  const statusCodes = {};
  let ok = 0;
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    if (!line) continue;
    const [, status, elapsedUs] = line.split("\t");
    statusCodes[status] = (statusCodes[status] ?? 0) + 1;
    if (/^2\d\d$/.test(status)) ok++;
    latencies.push(Number(elapsedUs) / 1000);
  }
  latencies.sort((a, b) => a - b);
  const [, , , , , failed, errored, timeout] = summary.map(Number);
  return {
    driver: "h2load",
    durationS: duration,
    ok,
    requestsPerSecond: round(ok / duration, 0),
    latencyMs: { p50: pct(latencies, 0.5), p99: pct(latencies, 0.99), p999: pct(latencies, 0.999) },
    errors: { non2xx: latencies.length - ok, failed, errored, timeouts: timeout, statusCodes },
  };
}

function pct(sorted, q) {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)], 3);
}

function round(n, digits) {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.once("error", (e) => reject(new Error(`cannot run ${command}: ${e.message}`)));
    child.once("exit", (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${command} exited ${code}: ${(err || out).slice(-500)}`));
    });
  });
}
