/**
 * Starts one target in its own process, waits until it says where it listens,
 * reads its peak RSS and stops it. Targets write their output to a file (not a
 * pipe), so the orchestrator spends no CPU reading this server's log lines.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";

const URL_IN_LINE = /"msg":"listening"[^\n]*?"url":"(http:\/\/[^"]+)"|"url":"(http:\/\/[^"]+)"[^\n]*?"msg":"listening"/;

/**
 * Spawns `node [nodeArgs] script [args]` with stdout and stderr in `logDir`,
 * resolves with { url, pid, stop } once a JSON line with msg "listening"
 * carries the url. Rejects when the process exits first or after `timeoutMs`.
 */
export async function startTarget({ name, script, args = [], nodeArgs = [], logDir, cwd, timeoutMs = 20_000 }) {
  const outPath = join(logDir, `${name}.out.log`);
  const errPath = join(logDir, `${name}.err.log`);
  const out = openSync(outPath, "w");
  const err = openSync(errPath, "w");
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { cwd, stdio: ["ignore", out, err] });
  closeSync(out);
  closeSync(err);
  let exited = null;
  const exit = new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });

  const deadline = Date.now() + timeoutMs;
  let url;
  while (!url) {
    if (exited) {
      throw new Error(`${name} exited (${exited.code ?? exited.signal}) before listening: ${tail(errPath)}`);
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`${name} did not report listening within ${timeoutMs} ms: ${tail(errPath)}`);
    }
    const match = URL_IN_LINE.exec(readFileSync(outPath, "utf8"));
    if (match) url = match[1] ?? match[2];
    else await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url,
    pid: child.pid,
    outPath,
    errPath,
    /** Peak resident set size in bytes (VmHWM), read before stopping. */
    peakRssBytes: () => peakRss(child.pid),
    /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit status. */
    async stop(graceMs = 15_000) {
      if (exited) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const status = await exit;
      clearTimeout(timer);
      return status;
    },
  };
}

/** VmHWM of a live process in bytes, or null when /proc cannot tell. */
export function peakRss(pid) {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function tail(path) {
  try {
    return readFileSync(path, "utf8").trim().split("\n").slice(-5).join(" | ") || "(no output)";
  } catch {
    return "(no output)";
  }
}
