/**
 * Summarizes a V8 .cpuprofile (from `node --cpu-prof`): self time by function
 * and by owner (our code, a package, Node's internals, GC), so a profile can
 * show where the time of a target goes. `node bench/lib/profile.mjs FILE [N]`.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

function ownerOf(url, functionName) {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith("node:")) return "node internals";
  if (url.includes("/dist/src/") || url.includes("/dist/gen/")) return "this server";
  if (url.includes("/bench/")) return "bench target";
  return url;
}

/** Self time per function and per owner, as text; idle time is left out of the shares. */
export function summarizeProfile(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const fns = new Map();
  const owners = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id).callFrame;
    if (functionName === "(idle)") {
      idle += us;
      continue;
    }
    busy += us;
    const file = url ? url.replace(/^file:\/\/.*?\/(node_modules|dist|bench)\//, "$1/") : "";
    const key = `${functionName || "(anonymous)"} ${file}${file ? `:${lineNumber + 1}` : ""}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const owner = ownerOf(url, functionName);
    owners.set(owner, (owners.get(owner) ?? 0) + us);
  }
  const share = (us) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const rows = (map, n) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${share(us)}  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`);
  return [
    `busy ${(busy / 1000).toFixed(0)} ms, idle ${(idle / 1000).toFixed(0)} ms`,
    "self time by owner:",
    ...rows(owners, 12),
    `top ${top} functions by self time:`,
    ...rows(fns, top),
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, n] = process.argv.slice(2);
  process.stdout.write(`${summarizeProfile(JSON.parse(readFileSync(file, "utf8")), Number(n ?? 25))}\n`);
}
