/**
 * The shape of the configuration file (YAML or JSON), checked with zod. Unknown
 * keys are errors, so a misspelt key never silently falls back to a default.
 */

import { z } from "zod";
import {
  DEFAULT_TOKEN_LIFETIME_SECONDS,
  MAX_TOKEN_LIFETIME_SECONDS,
  MIN_TOKEN_LIFETIME_SECONDS,
} from "../core/access-tokens.js";
import { filtersSchema } from "./filters-schema.js";
import { ipRange } from "./ip-ranges.js";

const operation = z.enum(["sale", "verification"]);
const currencyCode = z
  .string()
  .regex(/^[A-Z]{3}$/, "must be three upper-case letters")
  .refine((c) => Intl.supportedValuesOf("currency").includes(c), "is not an ISO 4217 currency code");

const endpointSchema = z
  .strictObject({
    id: z.string().min(1, "must not be empty"),
    controlKey: z.string().optional(),
    controlKeyEnv: z.string().min(1).optional(),
    controlKeyFile: z.string().min(1).optional(),
    operations: z.array(operation).min(1, "must name at least one operation"),
    currencies: z.array(currencyCode).min(1, "must name at least one currency, or be left out for any").optional(),
  })
  .refine(
    (e) => [e.controlKey, e.controlKeyEnv, e.controlKeyFile].filter((v) => v !== undefined).length === 1,
    "give exactly one of controlKey, controlKeyEnv or controlKeyFile",
  );

// An AuthService API key: the key itself, or where to read it from.
const apiKeySchema = z
  .strictObject({
    key: z.string().optional(),
    keyEnv: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
  })
  .refine(
    (k) => [k.key, k.keyEnv, k.keyFile].filter((v) => v !== undefined).length === 1,
    "give exactly one of key, keyEnv or keyFile",
  );

/** A whole number of milliseconds within [min, max], with messages a person can act on. */
function milliseconds(min: number, max: number) {
  return z
    .number({ error: "must be a number of milliseconds" })
    .int("must be a whole number of milliseconds")
    .min(min, `must be at least ${min} (milliseconds)`)
    .max(max, `must be at most ${max} (milliseconds)`);
}

/** The configuration file as written, before secrets are resolved. */
export const configFileSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(8080),
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .default({ host: "127.0.0.1", port: 8080 }),
  // Either `sqlite: FILE` (default ./data/proxy.db) or `postgres: URL` with its
  // pool settings; buildConfig fills in the defaults once it knows which.
  store: z
    .strictObject({
      sqlite: z.string().min(1).optional(),
      durability: z.enum(["full", "normal"]).optional(),
      postgres: z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, "must be a URL such as postgres://user@host:5432/database")
        .optional(),
      poolMax: z.number().int().min(1).max(1000).optional(),
      connectTimeoutMs: z.number().int().min(50).max(60_000).optional(),
      queryTimeoutMs: z.number().int().min(50).max(600_000).optional(),
    })
    .refine((s) => s.sqlite === undefined || s.postgres === undefined, "give either sqlite or postgres, not both")
    .refine(
      (s) =>
        s.postgres !== undefined || [s.poolMax, s.connectTimeoutMs, s.queryTimeoutMs].every((v) => v === undefined),
      "poolMax, connectTimeoutMs and queryTimeoutMs apply only with postgres",
    )
    .refine((s) => s.postgres === undefined || s.durability === undefined, "durability applies only with sqlite")
    .default({}),
  endpoints: z.array(endpointSchema).min(1, "configure at least one endpoint"),
  auth: z
    .strictObject({
      // Keys that may call AuthService; several at once so keys can be rotated.
      // None: AuthService refuses every call.
      apiKeys: z.array(apiKeySchema).default([]),
      // Development only: POST /auth/access-token issues a token to anyone.
      openIssuance: z.boolean().default(false),
      tokenLifetimeSeconds: z
        .number()
        .int()
        .min(MIN_TOKEN_LIFETIME_SECONDS)
        .max(MAX_TOKEN_LIFETIME_SECONDS, `must be at most ${MAX_TOKEN_LIFETIME_SECONDS} (30 days)`)
        .default(DEFAULT_TOKEN_LIFETIME_SECONDS),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(64 * 1024),
      // Requests served at once; past it new ones get OVERLOADED at once
      // rather than queueing into timeouts.
      maxInFlight: z.number().int().min(1).max(1_000_000).default(1024),
      // Server-side deadline of one request, when the caller sets none shorter.
      requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      headersTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      maxHeaderBytes: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024)
        .default(16 * 1024),
      http2MaxConcurrentStreams: z.number().int().min(1).max(100_000).default(256),
      // An HTTP/2 connection with no request open this long gets GOAWAY.
      http2IdleTimeoutMs: milliseconds(1000, 3_600_000).default(60_000),
      // A new HTTP/2 connection must complete its first request's headers within this.
      http2HeadersTimeoutMs: milliseconds(100, 600_000).default(10_000),
      // After GOAWAY, a connection still open this long (streams unfinished, or the
      // caller keeps its socket) is cut.
      http2GoawayTimeoutMs: milliseconds(100, 600_000).default(5_000),
      // SessionService.WatchSession streams open at once, counted apart from
      // maxInFlight (a watch lasts minutes); past it a new watch gets WATCHES_EXHAUSTED.
      maxWatches: z.number().int().min(1).max(1_000_000).default(1000),
      // The longest one watch lasts (the request deadline does not apply to it);
      // then it ends with WATCH_EXPIRED (DEADLINE_EXCEEDED) and the caller watches again.
      watchMaxSeconds: z.number().int().min(1).max(86_400).default(900),
      // How often a watch re-reads its session even when no change was announced.
      watchPollMs: milliseconds(100, 600_000).default(5_000),
    })
    .prefault({}),
  shutdown: z
    .strictObject({
      // How long requests in flight may take to finish after SIGTERM/SIGINT.
      graceSeconds: z.number().min(0).max(600).default(10),
    })
    .prefault({}),
  // The merchant's risk rules; see src/config/filters-schema.ts.
  filters: filtersSchema,
  // TopTechPay's calls back to this server (check, and later notification and callback).
  gateway: z
    .strictObject({
      // How long after its initiate a session may first be checked.
      checkWindowSeconds: z.number().int().min(10).max(86_400).default(900),
      // When set, the gateway-facing paths answer only these peer addresses (IPv4/IPv6 ranges).
      allowFrom: z.array(ipRange).min(1, "list at least one range, or leave allowFrom out").optional(),
      // Proxies whose X-Forwarded-For is believed (its rightmost untrusted address is the peer).
      trustedProxies: z.array(ipRange).default([]),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
    })
    .default({ level: "info" }),
});

/** The configuration file as parsed, defaults filled in. */
export type ConfigFile = z.infer<typeof configFileSchema>;

/** Formats zod's issues as one line per problem, naming the key path. */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join("");
    return `${path || "(top level)"}: ${issue.message}`;
  });
}
