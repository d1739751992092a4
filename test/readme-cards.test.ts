/**
 * The README's "The app's cards" commands run as written (bash, curl, node,
 * npx buf), unchanged except for the server's address, against a real server
 * with an API key and one stored card: the app lists it and deletes it, then
 * the back office lists it as deleted and cannot delete it again.
 */
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { seedCard } from "./support/card-fixtures.js";
import { startTestServer, TEST_SERIAL, type TestServer } from "./support/test-server.js";

const ROOT = resolve(import.meta.dirname, "..");
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const API_KEY = "readme-api-key-0123456789abcdef";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ config: { auth: { apiKeys: [{ key: API_KEY }] } } });
});
afterAll(async () => {
  await s?.close();
});

function run(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(
      "bash",
      ["-c", `set -euo pipefail\n${script.replaceAll("127.0.0.1:8080", `127.0.0.1:${s.port}`)}`],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? ROOT, ...env }, timeout: 60_000 },
      (error, out, err) => done({ code: error ? Number(error.code ?? 1) : 0, stdout: out, stderr: err }),
    );
  });
}

describe("README: the app's cards", () => {
  it("the curl and buf curl blocks run as written", async () => {
    const section = README.slice(README.indexOf("## The app's cards"), README.indexOf("<!-- /section:cards -->"));
    const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] ?? "");
    expect(blocks).toHaveLength(2);
    const [appBlock, backOfficeBlock] = blocks as [string, string];
    const first = await seedCard(s.server.store, TEST_SERIAL, { createdAt: new Date(Date.now() - 1000) });
    const second = await seedCard(s.server.store, TEST_SERIAL);

    // The app lists both and deletes the first.
    const app = await run(appBlock, { TOKEN: s.accessToken });
    expect({ code: app.code, stderr: app.stderr }).toEqual({ code: 0, stderr: "" });
    const [listed, deleted] = app.stdout.trim().split("\n");
    const ids = (JSON.parse(listed as string).cards as { clientCardId: string }[]).map((k) => k.clientCardId);
    expect(ids).toEqual([first.clientCardId, second.clientCardId]);
    expect(JSON.parse(deleted as string).card.clientCardId).toBe(first.clientCardId);
    expect((await s.server.store.findCard(first.clientCardId))?.deletedAt).toBeInstanceOf(Date);

    // The back office sees both, the first deleted, and deletes the second.
    const office = await run(backOfficeBlock, { CP_API_KEY: API_KEY, CARD: second.clientCardId });
    expect({ code: office.code, stderr: office.stderr }).toEqual({ code: 0, stderr: "" });
    const answers = office.stdout.split(/\n(?=\{)/).map((text) => JSON.parse(text));
    expect(
      answers[0].cards.map((k: { clientCardId: string; deletedAt?: string }) => [
        k.clientCardId,
        k.deletedAt !== undefined,
      ]),
    ).toEqual([
      [first.clientCardId, true],
      [second.clientCardId, false],
    ]);
    expect(answers[1].card).toMatchObject({ clientCardId: second.clientCardId, deletedAt: expect.any(String) });
    for (const out of [app.stdout, office.stdout]) {
      expect(out).not.toContain(first.serverCardId);
      expect(out).not.toContain(second.serverCardId);
    }
  }, 90_000);
});
