/**
 * One server process per SQLite file. The token cache would otherwise keep a
 * token that another process revoked; so a second server on an open file
 * must refuse to start with a message a person can act on, and the lock must
 * go with its process however it ends (SIGKILL included).
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SqliteFileInUseError } from "../src/store/sqlite/process-lock.js";
import { openSqliteStore } from "../src/store/sqlite/store.js";
import { issueToken, postSale, type ServerProcess, startServerProcess, testConfig } from "./support/server-process.js";

const IN_USE = /another cp-server process is already using the SQLite file .*shared\.db/;

let dir: string;
const running: ServerProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cp-lock-"));
});
afterAll(async () => {
  await Promise.all(running.map((p) => p.stop("SIGKILL")));
  rmSync(dir, { recursive: true, force: true });
});

describe("one server process per SQLite file", () => {
  it("refuses a second process with a clear error, and starts again once the first is SIGKILLed", async () => {
    const file = join(dir, "shared.db");
    const first = await startServerProcess(dir, "first", testConfig({ sqlite: file }));
    running.push(first);
    const token = await issueToken(first.url, "SN-LOCK-1");

    // The second process exits with code 1 before listening, saying why.
    const refused = await startServerProcess(dir, "second", testConfig({ sqlite: file })).then(
      (p) => {
        running.push(p);
        return new Error(`second server started at ${p.url}`);
      },
      (e: Error) => e,
    );
    expect(refused.message).toContain("exited (1) before listening");
    expect(refused.message).toMatch(IN_USE);
    expect(refused.message).toMatch(/One process per SQLite file/);
    expect(refused.message).not.toMatch(/\n\s+at /); // a sentence, not a stack trace

    // The first one is untouched by the attempt.
    expect((await postSale(first.url, token, "SN-LOCK-1")).status).toBe(200);

    // No shutdown code runs on SIGKILL: the kernel must release the lock.
    expect(await first.stop("SIGKILL")).toBe("SIGKILL");
    const third = await startServerProcess(dir, "third", testConfig({ sqlite: file }));
    running.push(third);
    // Same file, same data: the token issued by the first process still works.
    expect((await postSale(third.url, token, "SN-LOCK-1")).status).toBe(200);
    await third.stop();
  });

  it("refuses a second store on an open file in the same process, and frees the file on close", async () => {
    const path = join(dir, "in-process.db");
    const store = openSqliteStore({ path });
    expect(() => openSqliteStore({ path })).toThrow(SqliteFileInUseError);
    await store.close();
    const again = openSqliteStore({ path });
    await again.ping();
    await again.close();
    // The lock file is an empty SQLite database; holding it leaves no journal behind.
    expect(existsSync(`${path}.lock`)).toBe(true);
    expect(existsSync(`${path}.lock-journal`)).toBe(false);
  });
});
