/**
 * The effective configuration as written to the start-up log line, minus
 * secrets. Built by walking the Config rather than by listing fields, so a
 * section added later is shown too; anything that could be a secret is
 * replaced by "[redacted]" (or, for URLs, loses its password).
 */

// Keys whose text values are, or may hold, secrets. Numbers and booleans under
// them (a token lifetime, a key count) are not secret and stay visible.
const SECRET_KEY = /key|secret|token|password|passphrase|credential|cert|salt|pepper/i;

function redactUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password === "") return text;
    url.password = "***";
    return url.toString();
  } catch {
    return text;
  }
}

function summarise(value: unknown, secret: boolean): unknown {
  if (value === null || value === undefined || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return secret ? "[redacted]" : redactUrl(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Uint8Array || ArrayBuffer.isView(value)) return "[redacted]";
  if (Array.isArray(value)) return value.map((v) => summarise(v, secret));
  if (typeof value === "object") {
    // A KeyObject, a Map of keys and the like: never printable.
    if (Object.getPrototypeOf(value) !== Object.prototype) return secret ? "[redacted]" : `[${value.constructor.name}]`;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = summarise(v, secret || SECRET_KEY.test(k));
    return out;
  }
  return "[redacted]";
}

/** The configuration with every secret-looking value redacted, for the log. */
export function configSummary(config: object): Record<string, unknown> {
  return summarise(config, false) as Record<string, unknown>;
}
