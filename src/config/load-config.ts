import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { createEndpointDirectory, type Endpoint } from "../core/endpoints.js";
import { callbackControlFor, controlKeyFromText } from "../core/signature.js";
import { type ConfigFile, configFileSchema, describeIssues } from "./config-schema.js";
import type { FiltersConfig } from "./filters-schema.js";

/** The effective configuration the server runs with. */
export interface Config {
  readonly server: {
    readonly host: string;
    readonly port: number;
    readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  };
  /**
   * Where sessions and tokens live: PostgreSQL when `postgres` is set (the
   * SQLite fields are then unused), otherwise the SQLite file `sqlite`.
   */
  readonly store: {
    readonly sqlite: string;
    readonly durability: "full" | "normal";
    readonly postgres: PostgresStoreConfig | undefined;
  };
  readonly endpoints: readonly Endpoint[];
  readonly limits: {
    readonly maxBodyBytes: number;
    readonly maxInFlight: number;
    readonly requestTimeoutMs: number;
    readonly headersTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
    readonly maxHeaderBytes: number;
    readonly http2MaxConcurrentStreams: number;
    readonly http2IdleTimeoutMs: number;
    readonly http2HeadersTimeoutMs: number;
    readonly http2GoawayTimeoutMs: number;
    /** WatchSession streams open at once (apart from maxInFlight). */
    readonly maxWatches: number;
    /** The longest one watch lasts. */
    readonly watchMaxSeconds: number;
    /** How often a watch re-reads its session without an announcement. */
    readonly watchPollMs: number;
  };
  readonly shutdown: { readonly graceSeconds: number };
  readonly log: { readonly level: ConfigFile["log"]["level"] };
  /** The merchant's risk rules, checked; built into a rule set by the server. */
  readonly filters: FiltersConfig;
  /** TopTechPay's calls back to this server. */
  readonly gateway: {
    readonly checkWindowMs: number;
    /** Undefined: any peer may call the gateway-facing paths. */
    readonly allowFrom: readonly string[] | undefined;
    readonly trustedProxies: readonly string[];
  };
  /** Access tokens and the AuthService API keys (secrets: never logged). */
  readonly auth: {
    readonly apiKeys: readonly string[];
    readonly openIssuance: boolean;
    readonly tokenLifetimeSeconds: number;
  };
}

/** Shortest API key accepted, so a guessable placeholder never guards AuthService. */
const MIN_API_KEY_CHARS = 16;

/** The PostgreSQL store settings; `url` may hold a password, so it is never logged as is. */
export interface PostgresStoreConfig {
  readonly url: string;
  readonly poolMax: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
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
  /**
   * DATABASE_URL as main read it: selects PostgreSQL when the file names no
   * store (neither `store.sqlite` nor `store.postgres`).
   */
  readonly databaseUrl?: string | undefined;
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
        return;
      }
    }
    if (e.controlKeyFile !== undefined)
      text = readSecretFile(at(e.controlKeyFile), `${where}.controlKeyFile`, problems);
    if (text === undefined) return;
    try {
      endpoints.push({
        id: e.id,
        controlKey: controlKeyFromText(text.trim()),
        callbackControl: callbackControlFor(text.trim()),
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
  const apiKeys: string[] = [];
  file.auth.apiKeys.forEach((k, i) => {
    const where = `auth.apiKeys[${i}]`;
    let text = k.key;
    if (k.keyEnv !== undefined) {
      text = sources.env[k.keyEnv];
      if (text === undefined || text === "") {
        problems.push(`${where}.keyEnv: environment variable ${k.keyEnv} is not set`);
        return;
      }
    }
    if (k.keyFile !== undefined) text = readSecretFile(at(k.keyFile), `${where}.keyFile`, problems);
    if (text === undefined) return;
    const key = text.trim();
    if (key.length < MIN_API_KEY_CHARS)
      problems.push(`${where}: an API key must be at least ${MIN_API_KEY_CHARS} characters`);
    else apiKeys.push(key);
  });

  const fromEnv = file.store.sqlite === undefined ? sources.databaseUrl || undefined : undefined;
  const postgres = file.store.postgres ?? fromEnv;
  if (fromEnv !== undefined && file.store.postgres === undefined && !/^postgres(ql)?:\/\/\S+$/.test(fromEnv)) {
    problems.push("DATABASE_URL: must be a URL such as postgres://user@host:5432/database");
  }
  if (problems.length > 0) throw new ConfigError(source, problems);

  return deepFreeze({
    server: { host: file.server.host, port: file.server.port, tls },
    store: {
      sqlite: at(file.store.sqlite ?? "./data/proxy.db"),
      durability: file.store.durability ?? "full",
      postgres:
        postgres === undefined
          ? undefined
          : {
              url: postgres,
              poolMax: file.store.poolMax ?? 10,
              connectTimeoutMs: file.store.connectTimeoutMs ?? 1000,
              queryTimeoutMs: file.store.queryTimeoutMs ?? 1500,
            },
    },
    endpoints,
    limits: { ...file.limits },
    shutdown: { graceSeconds: file.shutdown.graceSeconds },
    log: { level: file.log.level },
    filters: file.filters,
    gateway: {
      checkWindowMs: file.gateway.checkWindowSeconds * 1000,
      allowFrom: file.gateway.allowFrom,
      trustedProxies: file.gateway.trustedProxies,
    },
    auth: {
      apiKeys,
      openIssuance: file.auth.openIssuance,
      tokenLifetimeSeconds: file.auth.tokenLifetimeSeconds,
    },
  });
}
