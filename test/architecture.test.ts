/**
 * The shape of src/: imports run one way between folders (main → server →
 * http → ops → core; store and config → core), no module imports itself back
 * through a cycle, files stay small and the server factory reads in one
 * screen. Reads the sources as text, so it needs no build.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../src");

/**
 * Each folder's rank: a module may import only from its own folder or one of
 * lower rank. http sits above ops (it serves ops' probes and metrics over
 * HTTP); ops knows nothing of HTTP plumbing.
 */
const RANK: Record<string, number> = {
  core: 0,
  config: 1,
  store: 2,
  ops: 2,
  http: 3,
  server: 3.5,
  "server.ts": 4,
  "main.ts": 5,
  // The simulator is a client of the server, not a part of it: it reads the
  // contract on its own (its signatures are computed again, not imported), so
  // it imports no other folder, and none imports it (tested below).
  simulator: -1,
};
const MAX_LINES = 250;
const MAX_FACTORY_LINES = 60;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

/** The src/ files a module imports (relative specifiers only; gen/ and packages are not src/). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"|import\s*\(?\s*"(\.[^"]+)"/g)) {
    const spec = (m[1] ?? m[2]) as string;
    const target = resolve(dirname(file), spec.replace(/\.js$/, ".ts"));
    if (target.startsWith(`${SRC}/`)) found.push(target);
  }
  return found;
}

function folderOf(file: string): string {
  return relative(SRC, file).split("/")[0] as string;
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe("src/ structure", () => {
  it("knows the rank of every folder", () => {
    const unknown = [...new Set(files.map(folderOf))].filter((f) => RANK[f] === undefined);
    expect(unknown).toEqual([]);
  });

  it("imports only downward between folders", () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) {
        const a = folderOf(from);
        const b = folderOf(to);
        if (a === b) continue;
        if ((RANK[b] as number) >= (RANK[a] as number)) upward.push(`${relative(SRC, from)} -> ${relative(SRC, to)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("has no import cycle between modules", () => {
    const cycles: string[] = [];
    const state = new Map<string, "open" | "done">();
    const stack: string[] = [];
    const visit = (file: string) => {
      state.set(file, "open");
      stack.push(file);
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === "open") {
          cycles.push(
            stack
              .slice(stack.indexOf(next))
              .concat(next)
              .map((f) => relative(SRC, f))
              .join(" -> "),
          );
        } else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, "done");
    };
    for (const f of files) if (!state.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("keeps the simulator apart: no module outside src/simulator/ imports it", () => {
    const into: string[] = [];
    for (const [from, targets] of graph) {
      if (folderOf(from) === "simulator") continue;
      for (const to of targets)
        if (folderOf(to) === "simulator") into.push(`${relative(SRC, from)} -> ${relative(SRC, to)}`);
    }
    expect(into).toEqual([]);
  });

  it(`keeps every source file under ${MAX_LINES} lines`, () => {
    const long = files
      .map((f) => ({ file: relative(SRC, f), lines: readFileSync(f, "utf8").split("\n").length }))
      .filter((f) => f.lines > MAX_LINES);
    expect(long).toEqual([]);
  });

  it(`keeps createServer under ${MAX_FACTORY_LINES} lines`, () => {
    const lines = readFileSync(join(SRC, "server.ts"), "utf8").split("\n");
    const start = lines.findIndex((l) => l.startsWith("export function createServer("));
    expect(start).toBeGreaterThanOrEqual(0);
    const end = lines.findIndex((l, i) => i > start && l === "}");
    expect(end - start + 1).toBeLessThanOrEqual(MAX_FACTORY_LINES);
  });
});
