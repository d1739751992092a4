/**
 * The shape of the configuration file (YAML or JSON), checked with zod. Unknown
 * keys are errors, so a misspelt key never silently falls back to a default.
 */
import { z } from "zod";

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

/** The configuration file as written, before secrets are resolved. */
export const configFileSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().min(1).default("127.0.0.1"),
      port: z.number().int().min(0).max(65535).default(8080),
      tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
    })
    .default({ host: "127.0.0.1", port: 8080 }),
  store: z
    .strictObject({
      sqlite: z.string().min(1).default("./data/proxy.db"),
      durability: z.enum(["full", "normal"]).default("full"),
    })
    .default({ sqlite: "./data/proxy.db", durability: "full" }),
  endpoints: z.array(endpointSchema).min(1, "configure at least one endpoint"),
  limits: z
    .strictObject({
      maxBodyBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * 1024 * 1024)
        .default(64 * 1024),
    })
    .default({ maxBodyBytes: 64 * 1024 }),
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
