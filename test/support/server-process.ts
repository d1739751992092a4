/**
 * Runs the real entry point, `node dist/src/main.js --config FILE`, as a child
 * process (dist/ is built by test/global-setup.ts). The config listens on
 * port 0; the port is read from the "listening" log line, which carries the
 * url, so there is no window in which another process could take the port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";

/** The API key the test configs accept for AuthService. */
export const TEST_API_KEY = "test-api-key-0123456789abcdef0123456789";
/** The default test endpoint (the spec's worked example key). */
export const TEST_ENDPOINT = {
  id: "1111",
  controlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20",
  operations: ["sale", "verification"],
  currencies: ["EUR", "USD"],
};

/** A running server process. */
export interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Every JSON log line so far. */
  readonly logLines: Record<string, unknown>[];
  /** Resolves with the exit code (or signal) once the process has ended. */
  readonly exited: Promise<number | NodeJS.Signals>;
  /** Sends the signal (default SIGTERM) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/** A config with the test endpoint and API key on 127.0.0.1:0, merged with `store` and `extra`. */
export function testConfig(store: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    server: { host: "127.0.0.1", port: 0 },
    store,
    endpoints: [TEST_ENDPOINT],
    auth: { apiKeys: [{ key: TEST_API_KEY }] },
    log: { level: "info" },
    ...extra,
  };
}

/**
 * Writes `config` as JSON into `dir` under `name` and starts the server with
 * it; resolves once it logs "listening" (rejects if it exits first).
 */
export async function startServerProcess(
  dir: string,
  name: string,
  config: object,
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(config));
  const child = spawn(process.execPath, ["dist/src/main.js", "--config", file], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "", ...env },
  });
  const logLines: Record<string, unknown>[] = [];
  let stderr = "";
  let stdout = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (text) => {
      stdout += `${text}\n`;
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      logLines.push(line);
      if (line.msg === "listening" && typeof line.url === "string") resolve(line.url);
    });
    void exited.then((code) =>
      reject(new Error(`server ${name} exited (${code}) before listening:\n${stderr}\n${stdout}`)),
    );
  });
  return {
    url,
    child,
    logLines,
    exited,
    stop(signal = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Issues a token over AuthService (Connect, JSON) with the test API key. */
export async function issueToken(url: string, serialNumber: string): Promise<string> {
  const res = await fetch(`${url}/toptechpay.auth.v1.AuthService/IssueAccessToken`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_API_KEY}` },
    body: JSON.stringify({ serialNumber, lifetime: "600s" }),
  });
  const body = (await res.json()) as { accessToken?: string };
  if (res.status !== 200 || !body.accessToken) throw new Error(`issue failed: ${res.status} ${JSON.stringify(body)}`);
  return body.accessToken;
}

/** Posts a sale over the documented JSON path; resolves with status and parsed body. */
export async function postSale(
  url: string,
  accessToken: string,
  serialNumber: string,
  signal?: AbortSignal,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${url}/sale/initiate-sale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      consumer: { device: { serialNumber } },
      session: { accessToken },
      transaction: { amountCentis: 1000, currency: "EUR" },
    }),
    signal: signal ?? null,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}
