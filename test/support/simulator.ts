/**
 * Runs the simulator as `npm run simulate` does after its build: `node
 * dist/src/simulator/main.js ARGS` as a child process (dist/ is built by
 * test/global-setup.ts), in a chosen working directory (where its default
 * data/dev-control-key is looked up), and reads its step lines.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";

const MAIN = resolve(import.meta.dirname, "../../dist/src/simulator/main.js");

/** What one run printed and its exit code. */
export interface SimulatorRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the simulator with `args` in `cwd`. */
export function runSimulator(args: readonly string[], cwd: string): Promise<SimulatorRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { cwd, env: { PATH: process.env.PATH ?? "" }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        done({ code, stdout, stderr });
      },
    );
  });
}

/** One numbered step line: its verdict ("ok", "FAIL", "skip") and name. */
export interface StepLine {
  readonly verdict: string;
  readonly name: string;
  readonly detail: string;
}

/** The numbered step lines of an output, in order. */
export function stepLines(stdout: string): StepLine[] {
  return [...stdout.matchAll(/^(ok|FAIL|skip) +\d+ (\S+) *(.*)$/gm)].map((m) => ({
    verdict: m[1] as string,
    name: m[2] as string,
    detail: m[3] as string,
  }));
}

/** The device the run played (from its heading line). */
export function simulatedDevice(stdout: string): string {
  const m = /device (\S+):/.exec(stdout);
  if (!m?.[1]) throw new Error(`no device in the output:\n${stdout}`);
  return m[1];
}

/** A control key in the form `npm start` writes (random, upper-case hex with dashes). */
export function freshControlKey(): string {
  const hex = randomBytes(16).toString("hex").toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The steps of a full run without an API key, in order. */
export const APP_AND_GATEWAY_STEPS = [
  "token",
  "initiate-sale",
  "check-sale",
  "sale-notification",
  "sale-callback",
  "list-cards",
  "repeat-initiate-sale",
  "repeat-check-sale",
  "repeat-sale-notification",
  "list-cards-again",
  "repeat-sale-callback",
  "initiate-verification",
  "check-verification",
  "verification-notification",
  "verification-callback",
];

/** The steps of a full run with an API key: WatchSession follows the first sale, GetSession reads all three. */
export const WITH_BACK_OFFICE_STEPS = [
  "token",
  "initiate-sale",
  "watch-session",
  "check-sale",
  "watch-session",
  "sale-notification",
  "sale-callback",
  "watch-session",
  ...APP_AND_GATEWAY_STEPS.slice(5),
  "get-session-sale",
  "get-session-repeat-sale",
  "get-session-verification",
];

/**
 * Long runs of URL-safe characters in the output that are not invoice ids:
 * a whole access token, gateway token, clientCardId or control key would be one.
 */
export function unshortenedSecrets(stdout: string): string[] {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  return (stdout.match(/[A-Za-z0-9_-]{20,}/g) ?? []).filter(
    (s) => !uuid.test(s) && /[0-9]/.test(s) && /[A-Za-z]/.test(s),
  );
}
