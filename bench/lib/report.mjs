/**
 * Turns the measured figures into the outputs: the ratios the issue sets
 * targets for, a Markdown table, and an SVG chart of throughput and p99 per
 * target drawn headless with vega (View.toSVG needs no canvas).
 */
import * as vega from "vega";

/**
 * Each ratio: numerator target, denominator target, the figure compared
 * (requests/s unless `p99`), and its goal: at least `goal`, or at most when
 * `atMost`. The first five are issue 16's (against the peers and the limit);
 * the last three compare with the no-store baselines, kept for continuity
 * with earlier runs (informational; their goals were the earlier issue's).
 */
export const RATIOS = {
  durableVsFastifyPeer: { num: 1, den: 9, goal: 1.5 },
  grpcVsGrpcJsPeer: { num: 3, den: 10, goal: 1.3 },
  checkVsFastifyPeer: { num: 8, den: 11, goal: 1.5 },
  durableVsBare: { num: 1, den: 5, goal: 0.7 },
  p99VsBare: { num: 1, den: 5, goal: 1.5, field: "p99", atMost: true },
  fastVsBare: { num: 2, den: 5, goal: 0.8 },
  durableVsFastify: { num: 1, den: 6, goal: 1.0 },
  grpcVsGrpcJs: { num: 3, den: 7, goal: 1.0 },
};

/**
 * One target's row from its rounds: every figure of the median round by
 * requests/s (with an even count, the slower of the two middle rounds), plus
 * each round's requests/s, the spread between the fastest and slowest round
 * relative to the median, and the errors of all rounds added up, so an error
 * in any round shows.
 */
export function medianRound(runs) {
  const sorted = [...runs].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const all = runs.map((r) => r.requestsPerSecond);
  const spread = (Math.max(...all) - Math.min(...all)) / median.requestsPerSecond;
  const errors = { ...median.errors };
  for (const key of ["non2xx", "socket", "failed", "errored", "timeouts", "poolExhausted"]) {
    if (runs.some((r) => r.errors[key] != null)) errors[key] = runs.reduce((n, r) => n + (r.errors[key] ?? 0), 0);
  }
  return {
    ...median,
    errors,
    rounds: all,
    spreadPct: Math.round(spread * 1000) / 10,
    peakRssBytes: Math.max(...runs.map((r) => r.peakRssBytes ?? 0)) || null,
  };
}

/** Ratios between targets (requests/s, or p99); null when either side did not run. */
export function computeRatios(results) {
  const figure = (n, field) => {
    const r = results.find((t) => t.id === n && !t.failure);
    return field === "p99" ? r?.latencyMs?.p99 : r?.requestsPerSecond;
  };
  const out = {};
  for (const [key, { num, den, field }] of Object.entries(RATIOS)) {
    const a = figure(num, field);
    const b = figure(den, field);
    out[key] = a && b ? Math.round((a / b) * 1000) / 1000 : null;
  }
  return out;
}

const mb = (bytes) => (bytes == null ? "-" : (bytes / 1048576).toFixed(0));
const ms = (v) => (v == null ? "-" : String(Math.round(v * 100) / 100));

/** Rows in the target's SQLite file after the median round, and the answers that had to be stored. */
function rowsText(rows) {
  if (!rows) return "-";
  const checked = rows.checked > 0 ? `, ${rows.checked} checked` : "";
  return `${rows.sessions} sessions${checked} (${rows.served} answered)`;
}

function errorText(r) {
  if (r.failure) return `failed: ${r.failure}`;
  const e = r.errors;
  const parts = [];
  if (e.non2xx) parts.push(`${e.non2xx} non-2xx`);
  for (const k of ["socket", "failed", "errored", "timeouts", "poolExhausted"]) if (e[k]) parts.push(`${e[k]} ${k}`);
  return parts.join(", ") || "0";
}

/** The Markdown report: machine, load, one row per target, ratios against goals. */
export function toMarkdown(report) {
  const { machine, options } = report;
  const lines = [
    `Run ${report.startedAt} on ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, ` +
      `${machine.os}, Node ${machine.node}. Load: ${options.connections} connections, ` +
      `${options.warmup} s warm-up then ${options.duration} s per target, ${options.rounds ?? 1} round(s) ` +
      "with the targets interleaved; each row is the target's median round (latency from that round, " +
      "peak RSS the highest of all rounds, errors added up over all rounds).",
    "",
    "| # | target | protocol | req/s | every round | spread | p50 ms | p99 ms | p99.9 ms | peak RSS MiB | rows stored | errors |",
    "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|",
  ];
  for (const r of report.targets) {
    const each = r.rounds?.join(" / ") ?? "-";
    const spread = r.spreadPct == null ? "-" : `${r.spreadPct}%`;
    lines.push(
      `| ${r.id} | ${r.name} | ${r.protocol} | ${r.failure ? "-" : r.requestsPerSecond} | ${each} | ${spread} | ` +
        `${ms(r.latencyMs?.p50)} | ${ms(r.latencyMs?.p99)} | ${ms(r.latencyMs?.p999)} | ${mb(r.peakRssBytes)} | ` +
        `${rowsText(r.rows)} | ${errorText(r)} |`,
    );
  }
  lines.push("", "| ratio | value | goal | met |", "|---|---:|---:|---|");
  for (const [key, { num, den, goal, field, atMost }] of Object.entries(RATIOS)) {
    const v = report.ratios[key];
    const met = v == null ? "-" : (atMost ? v <= goal : v >= goal) ? "yes" : "no";
    const what = field === "p99" ? `p99 ${num}÷${den}` : `${num}÷${den}`;
    lines.push(`| ${key} (${what}) | ${v ?? "-"} | ${atMost ? "≤" : "≥"} ${goal} | ${met} |`);
  }
  return `${lines.join("\n")}\n`;
}

const CHART_WIDTH = 330;
const CHART_HEIGHT = 200;

function barChart(title, field, format) {
  // Explicit pixel ranges: a nested group's "width"/"height" range shorthands
  // resolved to [0, 0] in headless rendering and drew every bar on one spot.
  return {
    type: "group",
    title: { text: title, anchor: "start" },
    encode: { update: { width: { value: CHART_WIDTH }, height: { value: CHART_HEIGHT } } },
    scales: [
      { name: "y", type: "band", domain: { data: "results", field: "label" }, range: [0, CHART_HEIGHT], padding: 0.15 },
      {
        name: "x",
        type: "linear",
        domain: { data: "results", field },
        range: [0, CHART_WIDTH],
        nice: true,
        zero: true,
      },
    ],
    axes: [
      { orient: "left", scale: "y", labelLimit: 200 },
      { orient: "bottom", scale: "x", format, grid: true, tickCount: 5 },
    ],
    marks: [
      {
        type: "rect",
        from: { data: "results" },
        encode: {
          update: {
            y: { scale: "y", field: "label" },
            height: { scale: "y", band: 1 },
            x: { scale: "x", value: 0 },
            x2: { scale: "x", field },
            fill: { signal: "datum.kind === 'ours' ? '#1f77b4' : datum.kind === 'peer' ? '#ff7f0e' : '#aaaaaa'" },
          },
        },
      },
      {
        type: "text",
        from: { data: "results" },
        encode: {
          update: {
            y: { scale: "y", field: "label", band: 0.5 },
            x: { scale: "x", field, offset: 3 },
            baseline: { value: "middle" },
            fontSize: { value: 10 },
            text: { signal: `format(datum.${field}, '${format}')` },
          },
        },
      },
    ],
  };
}

/** The SVG chart: requests/s and p99 latency per target, ours in blue, peers in orange, baselines grey. */
export async function toSvg(report) {
  const values = report.targets
    .filter((r) => !r.failure)
    .map((r) => ({
      label: `${r.id}. ${r.short}`,
      rps: r.requestsPerSecond,
      p99: r.latencyMs.p99,
      kind: r.kind,
    }));
  const spec = {
    $schema: "https://vega.github.io/schema/vega/v5.json",
    padding: 12,
    background: "white",
    title: {
      text: `Initiate sale (1-7, 9, 10), check sale (8, 11), ${report.options.connections} connections`,
      subtitle: "blue: this server; orange: peers (Fastify / grpc-js + durable SQLite); grey: no-store baselines",
      fontSize: 14,
    },
    layout: { columns: 2, padding: 90 },
    data: [{ name: "results", values }],
    marks: [
      barChart("Requests per second (higher is better)", "rps", ",.0f"),
      barChart("p99 latency, ms (lower is better)", "p99", ".1f"),
    ],
  };
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}
