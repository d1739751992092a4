/**
 * The per-request histograms record into cells instead of prom-client's
 * observe; what a Prometheus server scrapes must not change. Each test feeds
 * the same observations to a plain prom-client Histogram and to a
 * TallyHistogram in separate registries and compares the scraped text.
 */
import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { TallyHistogram } from "../src/ops/tally-histogram.js";

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LABELS = ["operation", "protocol", "outcome"] as const;
type Labels = Record<(typeof LABELS)[number], string>;

function pair() {
  const plainRegistry = new Registry();
  const tallyRegistry = new Registry();
  const config = { name: "cp_test_seconds", help: "A test histogram.", labelNames: LABELS, buckets: BUCKETS };
  const plain = new Histogram({ ...config, registers: [plainRegistry] });
  const tally = new TallyHistogram({ ...config, registers: [tallyRegistry] });
  return { plain, tally, plainRegistry, tallyRegistry };
}

const SALE: Labels = { operation: "sale", protocol: "json", outcome: "ok" };
const GRPC_ERROR: Labels = { operation: "sale", protocol: "grpc", outcome: "error" };
// On a bound (counts in that bucket), between bounds, below the first, above the last, zero.
const VALUES = [0.0005, 0.0007, 0.001, 0.003, 0.0001, 0, 12, 10, 0.42, 2.5, 0.0025];

describe("TallyHistogram", () => {
  it("scrapes exactly like prom-client's Histogram fed the same observations", async () => {
    const { plain, tally, plainRegistry, tallyRegistry } = pair();
    const saleCell = tally.cell(SALE);
    for (const [i, v] of VALUES.entries()) {
      plain.observe(SALE, v);
      tally.record(saleCell, v);
      if (i % 3 === 0) {
        plain.observe(GRPC_ERROR, v * 2);
        tally.observe(GRPC_ERROR, v * 2);
      }
    }
    const text = await tallyRegistry.metrics();
    expect(text).toBe(await plainRegistry.metrics());
    expect(text).toContain('cp_test_seconds_bucket{le="0.001",operation="sale",protocol="json",outcome="ok"} 5');
    expect(text).toContain('cp_test_seconds_count{operation="sale",protocol="grpc",outcome="error"} 4');
    expect(await tallyRegistry.getMetricsAsJSON()).toEqual(await plainRegistry.getMetricsAsJSON());
  });

  it("shows no series for a label set that was resolved but never observed", async () => {
    const { tally, tallyRegistry } = pair();
    tally.cell(GRPC_ERROR);
    expect(await tallyRegistry.metrics()).not.toContain("cp_test_seconds_count");
  });

  it("starts again from zero after the registry resets, with cells already handed out", async () => {
    const { plain, tally, plainRegistry, tallyRegistry } = pair();
    const cell = tally.cell(SALE);
    tally.record(cell, 0.2);
    plain.observe(SALE, 0.2);
    tallyRegistry.resetMetrics();
    plainRegistry.resetMetrics();
    expect(await tallyRegistry.metrics()).toBe(await plainRegistry.metrics());
    tally.record(cell, 0.003);
    plain.observe(SALE, 0.003);
    expect(await tallyRegistry.metrics()).toBe(await plainRegistry.metrics());
  });

  it("refuses a label prom-client would refuse, and a missing one", () => {
    const { tally } = pair();
    expect(() => tally.cell({ ...SALE, path: "/x" } as Labels)).toThrow(/unknown label "path"/);
    expect(() => tally.cell({ operation: "sale", protocol: "json" } as Labels)).toThrow(/label "outcome" missing/);
  });
});
