/**
 * Builds the one typed, frozen configuration object at start: reads the file
 * (YAML or JSON), resolves secrets from env vars or files, checks everything,
 * and fails with messages a person can act on. Secrets never appear in them.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { createEndpointDirectory, type Endpoint } from "../core/endpoints.js";
import { controlKeyFromText } from "../core/signature.js";
import { type ConfigFile, configFileSchema, describeIssues } from "./config-schema.js";

/** The effective configuration the server runs with. */
export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  };
  readonly store: { readonly sqlite: string; readonly durability: "full" | "normal" };
  readonly endpoints: readonly Endpoint[];
  readonly limits: { readonly maxBodyBytes: number };
  readonly log: { readonly level: ConfigFile["log"]["level"] };
}

/** A configuration that cannot be used; `problems` holds one line each. */
export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration in ${source}:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Where the loader reads from; main passes the real process values. */
export interface ConfigSources {
  /** Environment variables, for controlKeyEnv. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths in the file resolve against this folder. */
  readonly baseDir: string;
  /** Names the source in messages. */
  readonly sourceName?: string;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object" && !Buffer.isBuffer(value) && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function readSecretFile(path: string, what: string, problems: string[]): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (e) {
    problems.push(`${what}: cannot read file ${path} (${(e as NodeJS.ErrnoException).code ?? "error"})`);
    return undefined;
  }
}

/**
 * Checks a parsed configuration object (from a file or built by a test) and
 * returns the frozen Config. Throws ConfigError listing every problem found.
 */
export function buildConfig(raw: unknown, sources: ConfigSources): Config {
  const source = sources.sourceName ?? "configuration";
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) throw new ConfigError(source, describeIssues(parsed.error));
  const file = parsed.data;
  const problems: string[] = [];
  const at = (p: string) => resolve(sources.baseDir, p);

  const endpoints: Endpoint[] = [];
  file.endpoints.forEach((e, i) => {
    const where = `endpoints[${i}]`;
    let text: string | undefined = e.controlKey;
    if (e.controlKeyEnv !== undefined) {
      text = sources.env[e.controlKeyEnv];
      if (text === undefined || text === "") {
        problems.push(`${where}.controlKeyEnv: environment variable ${e.controlKeyEnv} is not set`);
      }
    }
    if (e.controlKeyFile !== undefined)
      text = readSecretFile(at(e.controlKeyFile), `${where}.controlKeyFile`, problems);
    if (text === undefined) return;
    try {
      endpoints.push({
        id: e.id,
        controlKey: controlKeyFromText(text.trim()),
        operations: [...new Set(e.operations)],
        currencies: e.currencies && [...new Set(e.currencies)],
      });
    } catch (err) {
      problems.push(`${where} ("${e.id}"): ${(err as Error).message}`);
    }
  });
  if (problems.length === 0) {
    try {
      createEndpointDirectory(endpoints);
    } catch (err) {
      problems.push(`endpoints: ${(err as Error).message}`);
    }
  }

  let tls: Config["server"]["tls"];
  if (file.server.tls) {
    const cert = readSecretFile(at(file.server.tls.cert), "server.tls.cert", problems);
    const key = readSecretFile(at(file.server.tls.key), "server.tls.key", problems);
    if (cert !== undefined && key !== undefined) tls = { cert: Buffer.from(cert), key: Buffer.from(key) };
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  return deepFreeze({
    server: { host: file.server.host, port: file.server.port, tls },
    store: { sqlite: at(file.store.sqlite), durability: file.store.durability },
    endpoints,
    limits: { maxBodyBytes: file.limits.maxBodyBytes },
    log: { level: file.log.level },
  });
}

/** Reads and checks a YAML or JSON configuration file. */
export function loadConfigFile(path: string, env: ConfigSources["env"]): Config {
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
    throw new ConfigError(path, [`not valid ${full.endsWith(".json") ? "JSON" : "YAML"}: ${(e as Error).message}`]);
  }
  return buildConfig(raw ?? {}, { env, baseDir: dirname(full), sourceName: path });
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
export function developmentConfig(dataDir: string): { config: Config; firstStartKey: string | undefined } {
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
      store: { sqlite: resolve(dataDir, "proxy.db") },
      endpoints: [{ id: DEV_ENDPOINT_ID, controlKeyFile: keyFile, operations: ["sale", "verification"] }],
    },
    { env: {}, baseDir: dataDir, sourceName: "development defaults" },
  );
  return { config, firstStartKey };
}
