/**
 * The simulator's command line, read with node:util parseArgs. Anything
 * wrong is a message for the usage text (exit code 2); the control key's
 * value never appears in a message.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { isControlKey } from "./signatures.js";

/** What one run plays against, all checked. */
export interface SimulatorOptions {
  /** The server as the app (and, with an API key, the back office) reaches it. */
  readonly url: string;
  /** The server as TopTechPay reaches it: checks, notifications, callbacks. */
  readonly gatewayUrl: string;
  /** AuthService / SessionService key; without it the token comes from open issuance. */
  readonly apiKey: string | undefined;
  /** The endpoint's control key, as text (dashes kept: the callback's control hashes the text). */
  readonly controlKey: string;
  readonly serialNumber: string;
  /** True when the serial number was drawn for this run (a device with no cards yet). */
  readonly freshDevice: boolean;
  readonly endpointId: string;
}

/** The usage text printed with --help and after a bad argument. */
export const USAGE = `usage: npm run simulate -- --url URL [--gateway-url URL] [--api-key KEY]
         [--control-key KEY | --control-key-file FILE] [--serial SN] [--endpoint-id ID]

Plays the app and TopTechPay against a running server: token, sale, check, card
notification, final-status callback, the app's cards, a repeat sale with the card,
a verification; every signature is verified here. Exit 0 when every step passed.

  --url URL                the server as the app reaches it (required)
  --gateway-url URL        the server as TopTechPay reaches it (default: --url)
  --api-key KEY            issue the token with AuthService and read the sessions back
                           with SessionService (default: POST /auth/access-token, which
                           only a development server or auth.openIssuance serves)
  --control-key KEY        the endpoint's control key
  --control-key-file FILE  a file holding it (default: data/dev-control-key, as npm start writes it)
  --serial SN              the device's serial number (default: a fresh SIM-... per run)
  --endpoint-id ID         the endpoint the key belongs to (default: 1111)
`;

const DEFAULT_KEY_FILE = "data/dev-control-key";
const DEFAULT_ENDPOINT = "1111";

/** A parsed command line: options to run, help asked, or a message for a bad one. */
export type ParsedArgs =
  | { readonly kind: "run"; readonly options: SimulatorOptions }
  | { readonly kind: "help" }
  | { readonly kind: "bad"; readonly message: string };

/** Reads `argv` (without node and the script); `readFile` reads the key file (relative to the working directory). */
export function parseSimulatorArgs(argv: readonly string[], readFile: (path: string) => string): ParsedArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        url: { type: "string" },
        "gateway-url": { type: "string" },
        "api-key": { type: "string" },
        "control-key": { type: "string" },
        "control-key-file": { type: "string" },
        serial: { type: "string" },
        "endpoint-id": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (e) {
    // parseArgs names the option, never an option's value.
    return { kind: "bad", message: (e as Error).message };
  }
  if (values.help) return { kind: "help" };
  const str = (name: string) => values[name] as string | undefined;
  const url = checkUrl("--url", str("url"));
  if (typeof url !== "string") return url;
  const gatewayUrl = checkUrl("--gateway-url", str("gateway-url") ?? url);
  if (typeof gatewayUrl !== "string") return gatewayUrl;
  const controlKey = readControlKey(str("control-key"), str("control-key-file"), readFile);
  if (typeof controlKey !== "string") return controlKey;
  const serial = str("serial");
  if (serial !== undefined && (serial.length < 1 || serial.length > 50)) {
    return { kind: "bad", message: "--serial must be 1 to 50 characters" };
  }
  const apiKey = str("api-key");
  if (apiKey !== undefined && apiKey.length === 0) return { kind: "bad", message: "--api-key is empty" };
  const endpointId = str("endpoint-id") ?? DEFAULT_ENDPOINT;
  if (endpointId.length === 0) return { kind: "bad", message: "--endpoint-id is empty" };
  return {
    kind: "run",
    options: {
      url,
      gatewayUrl,
      apiKey,
      controlKey,
      serialNumber: serial ?? `SIM-${randomBytes(6).toString("hex").toUpperCase()}`,
      freshDevice: serial === undefined,
      endpointId,
    },
  };
}

function checkUrl(flag: string, value: string | undefined): string | { kind: "bad"; message: string } {
  if (value === undefined) return { kind: "bad", message: `${flag} is required` };
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    return { kind: "bad", message: `${flag} is not a URL: ${value}` };
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return { kind: "bad", message: `${flag} must be an http:// or https:// URL` };
  }
  return value.replace(/\/+$/, "");
}

function readControlKey(
  key: string | undefined,
  file: string | undefined,
  readFile: (path: string) => string,
): string | { kind: "bad"; message: string } {
  if (key !== undefined && file !== undefined) {
    return { kind: "bad", message: "give --control-key or --control-key-file, not both" };
  }
  let text = key;
  let source = "--control-key";
  if (text === undefined) {
    const path = file ?? DEFAULT_KEY_FILE;
    source = `the control key file ${path}`;
    try {
      text = readFile(path);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? "error";
      const hint = file === undefined ? " (start the server once with npm start, or give --control-key)" : "";
      return { kind: "bad", message: `cannot read ${source} (${code})${hint}` };
    }
  }
  const trimmed = text.trim();
  if (!isControlKey(trimmed)) {
    return { kind: "bad", message: `${source} is not a control key (hexadecimal digits, dashes allowed)` };
  }
  return trimmed;
}
