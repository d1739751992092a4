/**
 * The README's "Try it" commands run as written: its shell blocks are taken
 * from README.md and run by bash, unchanged except for the server's address,
 * against the real entry point started with the development settings (open
 * issuance, endpoint 1111, its control key in ./data/dev-control-key). Every
 * other README command that calls buf goes through npx, since `npm install`
 * does not put node_modules/.bin on PATH.
 */
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ServerProcess, startServerProcess, TEST_ENDPOINT, testConfig } from "./support/server-process.js";

const ROOT = resolve(import.meta.dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");

/** The ```sh blocks between two markers of the README. */
function shellBlocks(from: string, to: string): string[] {
  const section = README.slice(README.indexOf(from), README.indexOf(to));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
}

let dir: string;
let server: ServerProcess;

beforeAll(async () => {
  // A stand-in for a fresh clone after `npm start`: proto/ and node_modules/
  // where the commands expect them, the development key in ./data/.
  dir = mkdtempSync(join(tmpdir(), "cp-readme-"));
  symlinkSync(join(ROOT, "proto"), join(dir, "proto"));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  writeFileSync(join(dir, "package.json"), "{}");
  mkdirSync(join(dir, "data"));
  writeFileSync(join(dir, "data/dev-control-key"), `${TEST_ENDPOINT.controlKey}\n`);
  server = await startServerProcess(
    dir,
    "readme",
    testConfig({ sqlite: join(dir, "data/proxy.db") }, { auth: { openIssuance: true } }),
  );
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("README commands", () => {
  it('"Try it" runs as written: JSON paths, buf curl on three protocols, a gzip body, the signature checked by hand, a check, then the notification of "TopTechPay\'s checks"', async () => {
    const blocks = shellBlocks("## Try it", "<!-- /section:usage -->");
    expect(blocks.length).toBe(5);
    // "TopTechPay's checks" continues "Try it" with a card mapping notification.
    const notification = shellBlocks("## TopTechPay's checks", "**For internal callers**");
    expect(notification.length).toBe(1);
    const host = new URL(server.url).host;
    const script = `set -euo pipefail\n${[...blocks, ...notification].join("\n").replaceAll("127.0.0.1:8080", host)}`;
    const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        "bash",
        ["-c", script],
        { cwd: dir, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir }, timeout: 60_000 },
        (error, out, err) => done({ code: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }),
      );
    });
    expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
    // Sale and verification on the JSON paths, three Sales over buf curl, a gzip verification, the check, the notification.
    expect(stdout.match(/"invoiceId": ?"[0-9a-f-]{36}"/g)?.length).toBe(8);
    const lines = stdout.trim().split("\n");
    // The signature block: the HMAC computed with openssl, then the answer's signature.
    const [computed, answered] = lines.slice(-6, -4);
    expect(computed).toMatch(/^[0-9A-F]{40}$/);
    expect(computed).toBe(answered);
    // The check block: TopTechPay's answer, then its checkSignature computed with openssl.
    const [check, checkComputed] = lines.slice(-4, -2);
    expect(JSON.parse(check as string).session.checkSignature).toBe(checkComputed);
    // The notification: the same session's answer, its checkSignature computed with openssl.
    const [notified, notifiedComputed] = lines.slice(-2);
    const answer = JSON.parse(notified as string);
    expect(answer.invoiceId).toBe(JSON.parse(check as string).invoiceId);
    expect(answer.session.checkSignature).toBe(notifiedComputed);
  }, 90_000);

  it("calls buf through npx everywhere", () => {
    const lines = README.split("\n").filter((l) => /^\s*(\S+=\S+\s+)?buf\s/.test(l));
    expect(lines).toEqual([]);
  });
});
