/**
 * The real entry point (`node dist/src/main.js --config FILE`) as a child
 * process with ALL of its output kept: every byte of stdout and stderr, for
 * tests that search the output (secrets) or read its log lines (shutdown).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** A running server whose output is captured whole. */
export interface CapturedProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): { stdout: string; stderr: string };
  /** The JSON log lines of stdout so far. */
  logLines(): Record<string, unknown>[];
  /** Resolves with the exit code (or the signal) once the process has ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
}

/** Writes `config` as JSON into `dir` and starts the server; resolves once it listens. */
export async function startCapturedProcess(dir: string, config: object): Promise<CapturedProcess> {
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, ["dist/src/main.js", "--config", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "" },
  });
  let stdout = "";
  let stderr = "";
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", (d: Buffer) => {
      stdout += d.toString("utf8");
      const m = /"url":"(http[^"]+)"[^\n]*"msg":"listening"/.exec(stdout);
      if (m?.[1]) resolve(m[1]);
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
  });
  return {
    url,
    child,
    exited,
    output: () => ({ stdout, stderr }),
    logLines: () =>
      stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}
