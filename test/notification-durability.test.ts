/**
 * A card mapping notification's card outlives the process that stored it:
 * SIGKILL in the middle of a burst of notifications (real server process,
 * durable SQLite) loses no card whose notification was answered 200, and
 * after the restart the same notifications again keep each card's
 * clientCardId. The cards are read straight from the SQLite file.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  checkedSession,
  expectNotificationAnswer,
  type Initiated,
  notificationBody,
  postNotification,
  serverCardId,
} from "./support/gateway-fixtures.js";
import { killMidBurst } from "./support/kill-mid-burst.js";
import { issueToken, startServerProcess, testConfig } from "./support/server-process.js";

const SESSIONS = 120;
const IN_FLIGHT = 12;
const KILL_AFTER_ACKS = 40;
const SERIAL = "SN-CARD-BURST";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cp-notify-durability-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Notified {
  readonly init: Initiated;
  readonly token: string;
  readonly serverCardId: string;
}

/** The device's live cards in the file: serverCardId → clientCardId. */
function liveCards(path: string): Map<string, string> {
  const db = new Database(path);
  try {
    const rows = db
      .prepare(
        "SELECT server_card_id, client_card_id FROM device_cards WHERE serial_number = ? AND deleted_at_ms IS NULL",
      )
      .all(SERIAL) as { server_card_id: string; client_card_id: string }[];
    return new Map(rows.map((r) => [r.server_card_id, r.client_card_id]));
  } finally {
    db.close();
  }
}

it("every notification answered 200 before a SIGKILL has its card after the restart; redelivered, each keeps its clientCardId", async () => {
  const file = join(dir, "cards.db");
  const config = testConfig({ sqlite: file, durability: "full" });
  let server = await startServerProcess(dir, "cards", config);
  const sessions: Notified[] = [];
  let acked: Notified[] = [];
  let cutOff = 0;
  try {
    const url = server.url;
    const gateway = { url, issueToken: (serial = SERIAL) => issueToken(url, serial) };
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < SESSIONS) {
          const i = next++;
          const { init, token } = await checkedSession(gateway, "sale", SERIAL);
          sessions[i] = { init, token, serverCardId: serverCardId() };
        }
      }),
    );
    let at = 0;
    const notifyOne = async (n: Notified) => {
      const body = notificationBody(n.init, n.token, { serverCardId: n.serverCardId, bin: 411111 });
      const answer = await postNotification(url, "sale", body);
      if (answer.status !== 200) throw new Error(`unexpected ${answer.status} ${answer.text}`);
      expectNotificationAnswer(answer, n.init, n.token);
      return n;
    };
    ({ acked, cutOff } = await killMidBurst(server, {
      workers: IN_FLIGHT,
      killAfter: KILL_AFTER_ACKS,
      send: () => (at < sessions.length ? notifyOne(sessions[at++] as Notified) : undefined),
    }));
    expect(await server.exited).toBe("SIGKILL");
  } finally {
    await server.stop("SIGKILL");
  }
  console.info(`${acked.length} notifications acknowledged before the kill, ${cutOff} cut off in flight`);
  expect(acked.length).toBeGreaterThanOrEqual(KILL_AFTER_ACKS);
  expect(acked.length).toBeLessThan(SESSIONS);
  expect(cutOff).toBeGreaterThan(0);

  const before = liveCards(file);
  expect(acked.map((n) => n.serverCardId).filter((id) => !before.has(id))).toEqual([]);

  server = await startServerProcess(dir, "cards", config);
  try {
    for (const n of sessions) {
      const body = notificationBody(n.init, n.token, { serverCardId: n.serverCardId, bin: 411111 });
      expectNotificationAnswer(await postNotification(server.url, "sale", body), n.init, n.token);
    }
  } finally {
    await server.stop();
  }
  const after = liveCards(file);
  // One card per notified serverCardId; those stored before the kill kept their clientCardId.
  expect(after.size).toBe(SESSIONS);
  for (const [id, clientCardId] of before) expect(after.get(id)).toBe(clientCardId);
}, 120_000);
