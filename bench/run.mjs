/**
 * `npm run bench`: starts each target in its own process, one after the other,
 * sends it one sanity request, a warm-up, then the measured load, reads its
 * peak RSS and stops it. Writes bench/results/latest.{json,md}, chart.svg and
 * the README's benchmark section. See bench/README.md.
 *
 * Options: --duration S (10), --connections N (50), --warmup S (3),
 * --rounds N (3: every target N times, interleaved; each target's figures are
 * those of its median round), --only 1,5 (target numbers), --profile (node
 * --cpu-prof on every target, one profile per target and round), --smoke (1 s per target, 2 rounds,
 * results to a temp dir, README untouched), --out DIR.
 */
import { execSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { checkCheck, checkRequests, createCheckPool } from "./lib/checks.mjs";
import { runAutocannon, runH2load } from "./lib/load.mjs";
import { startTarget } from "./lib/processes.mjs";
import { summarizeProfile } from "./lib/profile.mjs";
import { updateReadme } from "./lib/readme.mjs";
import { computeRatios, medianRound, toMarkdown, toSvg } from "./lib/report.mjs";
import {
  checkGrpc,
  checkJson,
  GRPC_PATH,
  grpcFrame,
  INVENTED_TOKEN,
  obtainAccessToken,
  saleBody,
} from "./lib/requests.mjs";
import { countSessions } from "./lib/stored-rows.mjs";
import { TARGETS } from "./lib/targets.mjs";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const { values: opts } = parseArgs({
  options: {
    duration: { type: "string" },
    connections: { type: "string", default: "50" },
    warmup: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    profile: { type: "boolean", default: false },
    smoke: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const duration = Number(opts.duration ?? (opts.smoke ? 1 : 10));
const warmup = Number(opts.warmup ?? (opts.smoke ? 1 : 3));
const connections = Number(opts.connections);
// Figures on a shared 2-core VM move by ±10% from one run of a target to the
// next; the median of interleaved rounds keeps one slow or fast moment from
// deciding a ratio.
const rounds = Number(opts.rounds ?? (opts.smoke ? 2 : 3));
if (!(duration > 0) || !(warmup >= 0) || !(connections >= 1) || !Number.isInteger(rounds) || rounds < 1) {
  process.stderr.write(
    "usage: npm run bench -- [--duration S] [--connections N] [--warmup S] [--rounds N] [--only 1,2] [--smoke]\n",
  );
  process.exit(2);
}
const only = opts.only ? new Set(opts.only.split(",").map(Number)) : undefined;
const fullRun = !opts.smoke && !only && !opts.out;
const outDir =
  opts.out ?? (opts.smoke ? mkdtempSync(join(os.tmpdir(), "cp-bench-smoke-")) : join(ROOT, "bench/results"));
const work = mkdtempSync(join(os.tmpdir(), "cp-bench-"));
const profileDir = join(outDir, "profiles");
mkdirSync(outDir, { recursive: true });
if (opts.profile) mkdirSync(profileDir, { recursive: true });

const log = (text) => process.stdout.write(`${text}\n`);

async function measure(target, round) {
  const database = target.database?.(work, round);
  const started = await startTarget({
    name: `target-${target.id}-r${round}`,
    script: join(ROOT, target.script),
    args: target.args?.(work, round) ?? [],
    nodeArgs: opts.profile
      ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=target-${target.id}-r${round}.cpuprofile`]
      : [],
    logDir: work,
    cwd: ROOT,
  });
  let figures;
  // Answers with a stored row behind them: the sanity requests', then the loads' 2xx.
  let served = 0;
  try {
    let token = INVENTED_TOKEN;
    let tokenSource = target.kind === "peer" ? "invented, stored in the peer's database" : "invented (checks none)";
    if (target.kind === "ours") {
      const issued = await obtainAccessToken(started.url);
      if (issued) [token, tokenSource] = [issued, "POST /auth/access-token"];
      else tokenSource = "invented (server issues none)";
    }
    let drive;
    if (target.load === "grpc") {
      const frame = grpcFrame(token);
      const bodyFile = join(work, `grpc-body-${target.id}.bin`);
      writeFileSync(bodyFile, frame);
      await checkGrpc(started.url, token, frame, database);
      served = 2;
      const headers = { "content-type": "application/grpc", te: "trailers" };
      drive = (seconds, logFile) =>
        runH2load({ url: started.url + GRPC_PATH, bodyFile, headers, connections, duration: seconds, logFile });
    } else if (target.load === "check") {
      drive = await prepareChecks(started.url, token);
      served = 1;
    } else {
      const url = started.url + target.path;
      const headers = { "content-type": "application/json", ...target.headers };
      const body = JSON.stringify(saleBody(token));
      await checkJson(url, headers, body, token, database);
      served = 1;
      drive = (seconds) => runAutocannon({ url, headers, body, connections, duration: seconds });
    }
    if (warmup > 0) served += (await drive(warmup, join(work, `h2load-warmup-${target.id}-${round}.log`))).ok;
    figures = await drive(duration, join(work, `h2load-${target.id}-${round}.log`));
    served += figures.ok;
    figures.peakRssBytes = started.peakRssBytes();
    figures.accessToken = tokenSource;
  } finally {
    const status = await started.stop();
    if (status.code !== 0 && status.signal !== "SIGTERM")
      log(`  (target ${target.id} exited ${status.code ?? status.signal})`);
  }
  if (database) {
    // Read after the target stopped: every answered session must be a row
    // (checks: a bound session), or the figures counted answers that store nothing.
    const rows = countSessions(database);
    // Each round has its own file; a full run would otherwise leave gigabytes behind.
    rmSync(dirname(database), { recursive: true, force: true });
    const stored = target.load === "check" ? rows.checked : rows.sessions;
    figures.rows = { ...rows, served };
    if (stored < served) {
      throw new Error(`${served} answered ${target.load === "check" ? "checks" : "sessions"}, only ${stored} stored`);
    }
  }
  return figures;
}

// Sessions initiated before any check is measured, to find the initiate rate.
const FIRST_FILL = 2000;

/**
 * The check target: initiates sessions through the server, runs the sanity
 * check, and returns a driver that, before each run, tops the pool up to
 * more than the run should need (the faster of the initiate rate and the
 * checks' own rate in the run before, times the run's seconds, times four
 * before any check was measured and two after), then loads the server with
 * one check per unchecked session.
 */
async function prepareChecks(baseUrl, token) {
  const pool = createCheckPool(baseUrl, token, connections);
  let expectedRate = await pool.fill(FIRST_FILL);
  let checksMeasured = false;
  const spent = await checkCheck(baseUrl, pool);
  return async (seconds) => {
    const filling = Date.now();
    // The first run knows only the initiate rate, measured over a short fill
    // that autocannon's start slows down: four times that, then twice the checks' rate.
    const need = Math.ceil(expectedRate * seconds * (checksMeasured ? 2 : 4)) + connections;
    await pool.fill(need - pool.size);
    log(`  (check pool: ${pool.size} initiated sessions ready, filled in ${Date.now() - filling} ms)`);
    const exhaustedBefore = pool.exhausted;
    const figures = await runAutocannon({
      url: baseUrl,
      headers: { "content-type": "application/json" },
      requests: checkRequests(pool, spent),
      connections,
      duration: seconds,
    });
    figures.errors.poolExhausted = pool.exhausted - exhaustedBefore;
    if (figures.errors.poolExhausted > 0) {
      log(`  (check pool ran dry: ${figures.errors.poolExhausted} requests were refused second tokens instead)`);
    }
    // Every request sent, refused ones included: the rate the next run must be stocked for.
    const sent = (figures.ok + figures.errors.non2xx) / figures.durationS;
    expectedRate = Math.max(expectedRate, sent);
    checksMeasured = true;
    return figures;
  };
}

function machine() {
  const cpus = os.cpus();
  let commit = "unknown";
  try {
    commit = execSync("git rev-parse --short HEAD", { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {}
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    commit,
  };
}

const report = {
  startedAt: new Date().toISOString(),
  machine: machine(),
  options: { duration, warmup, connections, rounds, smoke: opts.smoke, profile: opts.profile },
  targets: [],
  ratios: {},
};
log(
  `bench: ${connections} connections, ${warmup} s warm-up + ${duration} s per target, ${rounds} round(s); logs in ${work}`,
);
const selected = TARGETS.filter((t) => !only || only.has(t.id));
const runs = new Map(selected.map((t) => [t.id, []]));
const failures = new Map();
for (let round = 1; round <= rounds; round++) {
  for (const target of selected) {
    if (failures.has(target.id)) continue;
    try {
      const figures = await measure(target, round);
      if (figures.ok === 0) throw new Error("no request was answered with 2xx");
      runs.get(target.id).push(figures);
      const l = figures.latencyMs;
      log(
        `${rounds > 1 ? `[round ${round}] ` : ""}${target.id}. ${target.name}: ${figures.requestsPerSecond} req/s, ` +
          `p50 ${l.p50} ms, p99 ${l.p99} ms, p99.9 ${l.p999} ms, ` +
          `RSS ${Math.round(figures.peakRssBytes / 2 ** 20)} MiB, non-2xx ${figures.errors.non2xx}`,
      );
    } catch (e) {
      failures.set(target.id, e.message);
      log(`${target.id}. ${target.name}: FAILED: ${e.message}`);
    }
  }
}
let broken = 0;
for (const target of selected) {
  const row = {
    id: target.id,
    name: target.name,
    short: target.short,
    protocol: target.protocol,
    kind: target.kind,
  };
  if (failures.has(target.id)) {
    broken++;
    row.failure = failures.get(target.id);
  } else {
    Object.assign(row, medianRound(runs.get(target.id)));
  }
  report.targets.push(row);
}
report.ratios = computeRatios(report.targets);
const markdown = toMarkdown(report);
log(`\n${markdown}`);
writeFileSync(join(outDir, "latest.json"), `${JSON.stringify(report, null, 2)}\n`);
writeFileSync(join(outDir, "latest.md"), markdown);
writeFileSync(join(outDir, "chart.svg"), await toSvg(report));
if (fullRun) updateReadme(join(ROOT, "README.md"), markdown);
if (opts.profile) {
  for (const file of readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile"))) {
    log(`\nprofile ${file}:\n${summarizeProfile(JSON.parse(readFileSync(join(profileDir, file), "utf8")), 25)}`);
  }
}
log(`results in ${outDir}`);
process.exit(broken > 0 ? 1 : 0);
