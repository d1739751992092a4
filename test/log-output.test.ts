/**
 * The log goes to stdout through pino's worker thread. When whoever reads
 * stdout goes away (a log collector that stops), writes fail with EPIPE; the
 * server must keep serving, say so once on stderr, and still stop cleanly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { type CapturedProcess, startCapturedProcess } from "./support/main-process.js";
import { issueToken, testConfig } from "./support/server-process.js";

let dir: string | undefined;
let proc: CapturedProcess | undefined;
afterEach(() => {
  if (proc && proc.child.exitCode === null) proc.child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function sale(url: string, accessToken: string): Promise<Response> {
  return fetch(`${url}/sale/initiate-sale`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      consumer: { device: { serialNumber: "SN-LOG-PIPE" } },
      session: { accessToken },
      transaction: { amountCentis: 250, currency: "EUR" },
    }),
  });
}

it("keeps serving when its stdout is closed, says so once on stderr, and stops with exit code 0", async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-logpipe-"));
  proc = await startCapturedProcess(dir, testConfig({ sqlite: join(dir, "pipe.db") }));
  const token = await issueToken(proc.url, "SN-LOG-PIPE");
  expect((await sale(proc.url, token)).status).toBe(200);

  // The reader of stdout goes away: the server's next writes hit a closed pipe.
  proc.child.stdout?.destroy();
  for (let i = 0; i < 20; i++) {
    const res = await sale(proc.url, token);
    expect(res.status).toBe(200);
    await res.text();
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(proc.child.exitCode).toBeNull();
  const failures = proc.output().stderr.match(/log output failed/g) ?? [];
  expect(failures).toHaveLength(1);

  proc.child.kill("SIGTERM");
  expect(await proc.exited).toBe(0);
});
