/**
 * Graceful shutdown of the real process: SIGTERM in the middle of a burst over
 * HTTP/1.1 and HTTP/2. Every request the server accepted (it wrote a log line
 * for it) gets its whole answer, requests admitted before the signal finish
 * after it, every session answered 200 is in the SQLite file, and the process
 * exits 0 on its own.
 */
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { afterEach, expect, it } from "vitest";
import { InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type CapturedProcess, startCapturedProcess } from "./support/main-process.js";
import { issueToken, testConfig } from "./support/server-process.js";

const SERIAL = "SN-SHUTDOWN-1";
let dir: string | undefined;
let proc: CapturedProcess | undefined;
afterEach(() => {
  if (proc && proc.child.exitCode === null) proc.child.kill("SIGKILL");
  if (dir) rmSync(dir, { recursive: true, force: true });
  proc = undefined;
  dir = undefined;
});

function sale(token: string): Record<string, unknown> {
  return {
    consumer: { device: { serialNumber: SERIAL } },
    session: { accessToken: token },
    transaction: { amountCentis: 500, currency: "EUR" },
  };
}

/** What the client saw for one request id. */
type Seen = { kind: "answer"; status: number; body: Record<string, unknown> } | { kind: "failed"; error: string };

/** A sale whose body is held back until finish(); admitted by the server before that. */
function heldSale(url: string, token: string, requestId: string, seen: Map<string, Seen>) {
  const text = JSON.stringify(sale(token));
  const req = http.request(`${url}/sale/initiate-sale`, {
    method: "POST",
    agent: false,
    headers: {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      "x-request-id": requestId,
    },
  });
  const done = new Promise<void>((resolve) => {
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        body += d;
      });
      res.on("end", () => {
        seen.set(requestId, { kind: "answer", status: res.statusCode ?? 0, body: JSON.parse(body) });
        resolve();
      });
    });
    req.on("error", (e) => {
      seen.set(requestId, { kind: "failed", error: e.message });
      resolve();
    });
  });
  req.write(text.slice(0, 20));
  return { finish: () => req.end(text.slice(20)), done };
}

async function inFlight(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("cp_requests_in_flight "));
  return Number(line?.split(" ")[1] ?? 0);
}

it("SIGTERM during a burst: accepted requests get full answers, stored; exit 0", async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-shutdown-"));
  const sqlite = join(dir, "proxy.db");
  proc = await startCapturedProcess(dir, testConfig({ sqlite }, { shutdown: { graceSeconds: 10 } }));
  const { url } = proc;
  const token = await issueToken(url, SERIAL);
  const seen = new Map<string, Seen>();

  // Admitted before the signal, finished after it.
  const held = [0, 1, 2].map((i) => heldSale(url, token, `held-${i}`, seen));
  while ((await inFlight(url)) < held.length) await new Promise((r) => setTimeout(r, 10));

  let stop = false;
  let answered = 0;
  const http1Loop = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const id = `h1-${n}-${i}`;
      try {
        const res = await fetch(`${url}/sale/initiate-sale`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-request-id": id },
          body: JSON.stringify(sale(token)),
        });
        seen.set(id, { kind: "answer", status: res.status, body: (await res.json()) as Record<string, unknown> });
        answered++;
        if (res.status !== 200) return;
      } catch (e) {
        seen.set(id, { kind: "failed", error: String((e as Error).cause ?? e) });
        return;
      }
    }
  };
  const grpc = createClient(InitiateService, createGrpcTransport({ baseUrl: url }));
  const http2Loop = async (n: number) => {
    for (let i = 0; !stop; i++) {
      const id = `h2-${n}-${i}`;
      try {
        const answer = await grpc.sale(sale(token), { headers: { "x-request-id": id } });
        seen.set(id, { kind: "answer", status: 200, body: { invoiceId: answer.invoiceId } });
        answered++;
      } catch (e) {
        seen.set(id, { kind: "failed", error: String(e) });
        return;
      }
    }
  };
  const loops = [0, 1, 2, 3].map(http1Loop).concat([0, 1, 2, 3].map(http2Loop));
  while (answered < 40 && proc.child.exitCode === null) await new Promise((r) => setTimeout(r, 5));

  proc.child.kill("SIGTERM");
  while (!proc.output().stdout.includes('"msg":"shutting down"') && proc.child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 5));
  }
  for (const h of held) h.finish();
  await Promise.all(held.map((h) => h.done));
  stop = true;
  await Promise.all(loops);

  expect(await proc.exited).toBe(0);

  // Requests admitted before the signal completed after it.
  for (let i = 0; i < held.length; i++) {
    const s = seen.get(`held-${i}`);
    expect(s).toMatchObject({ kind: "answer", status: 200 });
  }
  // Every request the server logged got its whole answer: a session, or the
  // documented SHUTTING_DOWN body.
  const logged = proc.logLines().filter((l) => l.msg === "request" && typeof l.requestId === "string");
  const ours = logged.filter((l) => /^(h1|h2|held)-/.test(l.requestId as string));
  expect(ours.length).toBeGreaterThanOrEqual(40);
  for (const line of ours) {
    const s = seen.get(line.requestId as string);
    expect(s?.kind, `request ${line.requestId}: ${JSON.stringify(s)}`).toBe("answer");
    expect(line.outcome).not.toBe("aborted");
    if (s?.kind === "answer" && s.status !== 200) {
      expect(s.status).toBe(503);
      expect(s.body).toMatchObject({ error: { cause: "SERVER_UNAVAILABLE", code: "SHUTTING_DOWN" } });
    }
  }
  // Every session answered 200 was committed before its answer left.
  const db = new Database(sqlite, { readonly: true });
  const stored = new Set(db.prepare("SELECT invoice_id FROM sessions").pluck().all() as string[]);
  db.close();
  const invoices = [...seen.values()].flatMap((s) =>
    s.kind === "answer" && s.status === 200 ? [s.body.invoiceId as string] : [],
  );
  expect(invoices.length).toBeGreaterThanOrEqual(40);
  for (const invoice of invoices) expect(stored.has(invoice)).toBe(true);
  const stopped = proc.logLines().find((l) => l.msg === "stopped");
  expect(stopped).toBeDefined();
});

it("SIGINT on an idle server with an open HTTP/2 session: exits 0", async () => {
  dir = mkdtempSync(join(tmpdir(), "cp-shutdown-"));
  proc = await startCapturedProcess(dir, testConfig({ sqlite: join(dir, "proxy.db") }));
  // An idle HTTP/2 session must not keep the process alive (GOAWAY, then closed).
  const grpc = createClient(InitiateService, createGrpcTransport({ baseUrl: proc.url }));
  await grpc.sale({}).catch(() => undefined);
  proc.child.kill("SIGINT");
  expect(await proc.exited).toBe(0);
});
