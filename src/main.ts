/**
 * Entry point of `npm start`: the only module that reads process.env and the
 * command line. `--config FILE` (YAML or JSON) runs with that file; with no
 * flag it starts the development server described in the README.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { ConfigError } from "./config/load-config.js";
import { developmentConfig, loadConfigFile } from "./config/read-config.js";
import { StoreUnavailableError } from "./core/session-store.js";
import { configSummary } from "./ops/config-summary.js";
import { exitGracefullyOnSignals } from "./ops/shutdown.js";
import { createServer } from "./server.js";
import { describeStore } from "./store/open-store.js";

async function main(): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      options: { config: { type: "string", short: "c" }, help: { type: "boolean", short: "h" } },
      allowPositionals: false,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nusage: npm start -- [--config FILE]\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write("usage: npm start -- [--config FILE]   (no file: development server, see README)\n");
    return 0;
  }
  let config: ReturnType<typeof loadConfigFile>;
  let firstStartKey: string | undefined;
  try {
    const databaseUrl = process.env.DATABASE_URL;
    if (values.config !== undefined) config = loadConfigFile(values.config, process.env, databaseUrl);
    else ({ config, firstStartKey } = developmentConfig(process.env.CP_DATA_DIR ?? "./data", databaseUrl));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  // stdout is written by pino's worker thread (pino/file transport): a log
  // line never waits for the pipe on the request path, and the event loop
  // only copies each line into a shared buffer. Measured against pino's
  // asynchronous in-thread destination: about half the cost per line, which
  // re-measures the whole buffered string at every write (bench/README.md).
  // pino flushes the worker when the process exits.
  const logOutput = pino.transport({ target: "pino/file", options: { destination: 1 } });
  // A closed stdout (the log collector went away) must not take the server
  // down with it: said once on stderr; the lines after it are lost.
  let logOutputFailed = false;
  logOutput.on("error", (e: Error) => {
    if (logOutputFailed) return;
    logOutputFailed = true;
    process.stderr.write(`log output failed (${e.message}); further log lines are dropped\n`);
  });
  const logger = pino({ level: config.log.level, base: { service: "cp-server" } }, logOutput);
  const server = createServer(config, logger);
  let address: Awaited<ReturnType<typeof server.listen>>;
  try {
    address = await server.listen();
  } catch (e) {
    // Documented choice: a store that cannot be reached at start is a clear
    // message and exit code 1, so an orchestrator restarts us later.
    if (e instanceof StoreUnavailableError) {
      logger.fatal({ store: describeStore(config.store), reason: e.message }, "store unreachable at start");
      process.stderr.write(`cannot start: the store cannot be reached (${e.message})\n`);
      await server.close(0).catch(() => undefined);
      return 1;
    }
    throw e;
  }
  logger.info(
    {
      url: address.url,
      mode: values.config === undefined ? "development" : "configured",
      // The effective configuration, every secret-looking value redacted.
      config: configSummary({ ...config, store: describeStore(config.store) }),
    },
    "listening",
  );
  if (firstStartKey) {
    // Shown once, on the terminal, so a newcomer can check signatures by hand;
    // it is a development key and never goes to the log.
    process.stderr.write(
      `\nDevelopment endpoint 1111 created. Its control key (kept in ./data/dev-control-key):\n  ${firstStartKey}\n\n`,
    );
  }
  exitGracefullyOnSignals(logger, config.shutdown.graceSeconds * 1000, (graceMs) => server.close(graceMs));
  return -1;
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`cannot start: ${(e as Error).message}\n`);
    process.exit(1);
  },
);
