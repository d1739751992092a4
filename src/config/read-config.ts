/**
 * Where the configuration comes from: a YAML or JSON file, or with no file
 * the development defaults. Both go through buildConfig (load-config.ts).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { buildConfig, type Config, ConfigError, type ConfigSources } from "./load-config.js";

/** Reads and checks a YAML or JSON configuration file. */
export function loadConfigFile(path: string, env: ConfigSources["env"], databaseUrl?: string | undefined): Config {
  const full = resolve(path);
  let text: string;
  try {
    text = readFileSync(full, "utf8");
  } catch (e) {
    throw new ConfigError(path, [`cannot read the file (${(e as NodeJS.ErrnoException).code ?? "error"})`]);
  }
  let raw: unknown;
  try {
    raw = full.endsWith(".json") ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(path, [
      `not valid ${full.endsWith(".json") ? "JSON" : "YAML"}: ${parseErrorReason(e, text)}`,
    ]);
  }
  return buildConfig(raw ?? {}, { env, baseDir: dirname(full), sourceName: path, databaseUrl });
}

/**
 * The reason and position of a YAML or JSON syntax error, without the parsers'
 * quote of the surrounding text: that text may be a control key.
 */
function parseErrorReason(e: unknown, text: string): string {
  // yaml: "reason at line L, column C:\n\n<the line>\n^"; V8: "reason in JSON at
  // position N" or "Unexpected token 'x', "...<the text>..." is not valid JSON".
  const first = (e instanceof Error ? e.message : String(e)).split("\n")[0] ?? "";
  const reason = first.split('"')[0]?.replace(/[\s,:]+$/, "") || "syntax error";
  const position = /at position (\d+)/.exec(reason);
  if (!position) return reason;
  const before = text.slice(0, Number(position[1])).split("\n");
  const where = `at line ${before.length}, column ${(before.at(-1)?.length ?? 0) + 1}`;
  return reason.replace(/at position \d+/, where);
}

/** The development endpoint used when no configuration file is given. */
export const DEV_ENDPOINT_ID = "1111";

/**
 * The configuration of `npm start` with no file: 127.0.0.1:8080, SQLite under
 * `dataDir`, and one development endpoint for both operations and any
 * currency, whose control key is generated once and kept in `dataDir`.
 * `firstStartKey` is the new key when it was just made (to show the person),
 * undefined on later starts.
 */
export function developmentConfig(
  dataDir: string,
  databaseUrl?: string | undefined,
): { config: Config; firstStartKey: string | undefined } {
  const keyFile = resolve(dataDir, "dev-control-key");
  let firstStartKey: string | undefined;
  if (!existsSync(keyFile)) {
    mkdirSync(dataDir, { recursive: true });
    const hex = randomBytes(16).toString("hex").toUpperCase();
    firstStartKey = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    writeFileSync(keyFile, `${firstStartKey}\n`, { mode: 0o600 });
  }
  const config = buildConfig(
    {
      store: databaseUrl ? {} : { sqlite: resolve(dataDir, "proxy.db") },
      endpoints: [{ id: DEV_ENDPOINT_ID, controlKeyFile: keyFile, operations: ["sale", "verification"] }],
      // Anyone may get a token here, so the README's examples work at once.
      auth: { openIssuance: true },
    },
    { env: {}, baseDir: dataDir, sourceName: "development defaults", databaseUrl },
  );
  return { config, firstStartKey };
}
