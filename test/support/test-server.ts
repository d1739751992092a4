/**
 * Starts a real server for a test: a fresh temp dir with its own SQLite file,
 * `buildConfig` + `createServer` on 127.0.0.1 port 0, and a pino logger whose
 * JSON lines are captured so a test can find the line for its request id.
 *
 * ```ts
 * const s = await startTestServer();            // or startTestServer({ config: { limits: {...} } })
 * const res = await fetch(`${s.url}/sale/initiate-sale`, { method: "POST", ... });  // with s.accessToken
 * s.logLines.find((l) => l.requestId === res.headers.get("x-request-id"));
 * await s.close();                                // stops the server, removes the temp dir
 * ```
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterAll } from "vitest";
import { buildConfig, type Config } from "../../src/config/load-config.js";
import { type AppServer, createServer } from "../../src/server.js";

/** The control key of the default test endpoint (the spec's worked example). */
export const TEST_CONTROL_KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20";
/** The id of the default test endpoint: sale and verification in EUR and USD. */
export const TEST_ENDPOINT_ID = "1111";
/** The device serial number `accessToken` is issued for. */
export const TEST_SERIAL = "SN-000001";

/** One captured log line, as pino wrote it. */
export type LogLine = Record<string, unknown> & { msg?: string; requestId?: string };

/** Options of startTestServer. */
export interface TestServerOptions {
  /**
   * Top-level config keys merged over the defaults (server, store, endpoints);
   * e.g. `{ limits: { maxBodyBytes: 2048 } }` or `{ server: { tls: {...} } }`.
   * `server.host`/`server.port` and `store.sqlite` are filled in when left out
   * (`store.sqlite` not when `store.postgres` is given).
   */
  readonly config?: Record<string, unknown>;
  /** false: build the server without its fast routes (createServer's seam), for the parity test. */
  readonly fastRoutes?: boolean;
  /** Reuse this directory (and its SQLite file) instead of a new temp dir; it is then not removed. */
  readonly dir?: string;
}

/** A running test server. */
export interface TestServer {
  /** `http://127.0.0.1:PORT` (or https with TLS). */
  readonly url: string;
  readonly port: number;
  readonly server: AppServer;
  readonly config: Config;
  /** The temp dir holding the SQLite file (and anything a test puts there). */
  readonly dir: string;
  readonly sqlitePath: string;
  /** An access token issued at start for TEST_SERIAL (tokens are real credentials). */
  readonly accessToken: string;
  /** Issues another access token through the server's own token service. */
  issueToken(serialNumber?: string): Promise<string>;
  /** Every log line so far, parsed; appended to as the server logs. */
  readonly logLines: LogLine[];
  /** The log line written for a request id, waiting briefly (it is written when the response closes). */
  logLineFor(requestId: string): Promise<LogLine | undefined>;
  /** Closes the server and removes the temp dir (unless `dir` was given). */
  close(): Promise<void>;
}

/** Builds the config and starts a real server on an ephemeral port. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "cp-test-"));
  const extra = options.config ?? {};
  const raw = {
    endpoints: [
      {
        id: TEST_ENDPOINT_ID,
        controlKey: TEST_CONTROL_KEY,
        operations: ["sale", "verification"],
        currencies: ["EUR", "USD"],
      },
    ],
    ...extra,
    server: { host: "127.0.0.1", port: 0, ...(extra.server as object | undefined) },
    // PostgreSQL when the test gives it; otherwise a SQLite file in the temp dir.
    store:
      (extra.store as { postgres?: unknown } | undefined)?.postgres === undefined
        ? { sqlite: join(dir, "proxy.db"), ...(extra.store as object | undefined) }
        : extra.store,
  };
  const config = buildConfig(raw, { env: {}, baseDir: dir, sourceName: "test" });

  const logLines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (text.trim() !== "") logLines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  const logger = pino({ level: "info" }, sink);
  const server = createServer(config, logger, { fastRoutes: options.fastRoutes });
  const { url, port } = await server.listen();
  const issueToken = async (serialNumber = TEST_SERIAL) => (await server.tokens.issue(serialNumber)).accessToken;
  const accessToken = await issueToken();

  return {
    url,
    port,
    server,
    config,
    dir,
    sqlitePath: config.store.sqlite,
    logLines,
    accessToken,
    issueToken,
    async logLineFor(requestId) {
      for (let i = 0; i < 100; i++) {
        const line = logLines.find((l) => l.requestId === requestId);
        if (line) return line;
        await new Promise((r) => setTimeout(r, 10));
      }
      return undefined;
    },
    async close() {
      await server.close(2_000);
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One server for a whole test file: awaited at the file's top level, closed
 * after the file's last test (the beforeAll/afterAll pair, written once).
 */
export async function serverForFile(options: TestServerOptions = {}): Promise<TestServer> {
  const s = await startTestServer(options);
  afterAll(() => s.close());
  return s;
}
