/**
 * Entry point of `npm start`: the only module that reads process.env and the
 * command line. `--config FILE` (YAML or JSON) runs with that file; with no
 * flag it starts the development server described in the README.
 */
import { parseArgs } from "node:util";
import { pino } from "pino";
import { ConfigError, developmentConfig, loadConfigFile } from "./config/load-config.js";
import { createServer } from "./server.js";

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
    if (values.config !== undefined) config = loadConfigFile(values.config, process.env);
    else ({ config, firstStartKey } = developmentConfig(process.env.CP_DATA_DIR ?? "./data"));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const logger = pino({ level: config.log.level, base: { service: "cp-server" } });
  const server = createServer(config, logger);
  const address = await server.listen();
  logger.info(
    {
      url: address.url,
      mode: values.config === undefined ? "development" : "configured",
      store: { sqlite: config.store.sqlite, durability: config.store.durability },
      endpoints: config.endpoints.map((e) => ({
        id: e.id,
        operations: e.operations,
        currencies: e.currencies ?? "any",
      })),
      limits: config.limits,
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
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    server.close().then(
      () => process.exit(0),
      (e: unknown) => {
        logger.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
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
