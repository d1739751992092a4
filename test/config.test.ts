/**
 * Configuration files as a person writes them (YAML and JSON in a temp dir),
 * the messages a mistake gets, the real entry point's exit code 2, and the
 * development configuration of a plain `npm start`. Control keys must never
 * appear in any message.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildConfig, ConfigError } from "../src/config/load-config.js";
import { DEV_ENDPOINT_ID, developmentConfig, loadConfigFile } from "../src/config/read-config.js";
import { createEndpointDirectory } from "../src/core/endpoints.js";
import { controlKeyFromText, signSession } from "../src/core/signature.js";
import { WORKED, WORKED_SIGNATURE } from "./support/worked-example.js";

const ROOT = resolve(import.meta.dirname, "..");
const KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20";
const KEY2 = "0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9";
/** A key with one non-hex letter: the message must not quote it either. */
const BAD_KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43DZ0";
const SECRETS = [KEY, KEY2, BAD_KEY];

const dir = mkdtempSync(join(tmpdir(), "cp-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCount = 0;

/** Writes a file with a fresh name in the temp dir and returns its path. */
function file(ext: string, text: string): string {
  const path = join(dir, `config-${++fileCount}.${ext}`);
  writeFileSync(path, text);
  return path;
}

/** The ConfigError a call throws; fails the test when it throws nothing or something else. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError, but the configuration was accepted");
}

/** No form of any test key, nor 8 of its hex digits in a row, is in the text. */
function expectNoSecret(text: string): void {
  for (const secret of SECRETS) {
    const hex = secret.replaceAll("-", "");
    expect(text).not.toContain(secret);
    for (let i = 0; i + 8 <= hex.length; i += 4) expect(text.toUpperCase()).not.toContain(hex.slice(i, i + 8));
    for (const part of secret.split("-")) if (part.length >= 8) expect(text).not.toContain(part);
  }
}

describe("loadConfigFile: valid files", () => {
  it("reads a complete YAML file, resolving paths and secrets", () => {
    writeFileSync(join(dir, "key-2222.txt"), `  ${KEY2}\n`);
    const path = file(
      "yaml",
      `# a merchant's configuration
server:
  host: 0.0.0.0
  port: 9443
store:
  sqlite: ./db/sessions.db
  durability: normal
endpoints:
  - id: "1111"
    controlKey: "${KEY}"
    operations: [sale, verification]
    currencies: [EUR, USD]
  - id: "2222"
    controlKeyFile: key-2222.txt
    operations: [sale]
    currencies: [GBP]
  - id: "3333"
    controlKeyEnv: CP_TEST_KEY_3333
    operations: [verification]
limits:
  maxBodyBytes: 32768
log:
  level: warn
`,
    );
    const config = loadConfigFile(path, { CP_TEST_KEY_3333: KEY.toLowerCase() });
    expect(config.server).toMatchObject({ host: "0.0.0.0", port: 9443, tls: undefined });
    expect(config.store).toMatchObject({ sqlite: join(dir, "db/sessions.db"), durability: "normal" });
    expect(config.limits.maxBodyBytes).toBe(32768);
    expect(config.log.level).toBe("warn");
    expect(config.endpoints.map((e) => [e.id, e.operations, e.currencies])).toEqual([
      ["1111", ["sale", "verification"], ["EUR", "USD"]],
      ["2222", ["sale"], ["GBP"]],
      ["3333", ["verification"], undefined],
    ]);
    // Each key, whichever way it was given, is the right key.
    const [e1, e2, e3] = config.endpoints;
    expect(e1 && signSession(e1.controlKey, WORKED)).toBe(WORKED_SIGNATURE);
    expect(e3 && signSession(e3.controlKey, WORKED)).toBe(WORKED_SIGNATURE);
    expect(e2?.controlKey.export().toString("hex").toUpperCase()).toBe(KEY2.replaceAll("-", ""));
    expect(Object.isFrozen(config) && Object.isFrozen(config.server) && Object.isFrozen(config.endpoints)).toBe(true);
    // The directory the server builds from it picks endpoints by operation and currency.
    const directory = createEndpointDirectory(config.endpoints);
    expect(directory.find("sale", "GBP")?.id).toBe("2222");
    expect(directory.find("verification", "JPY")?.id).toBe("3333");
    expect(directory.find("sale", "JPY")).toBeUndefined();
  });

  it("reads the same configuration from JSON, with the documented defaults", () => {
    const path = file(
      "json",
      JSON.stringify({ endpoints: [{ id: "1111", controlKey: KEY, operations: ["sale", "verification"] }] }),
    );
    const config = loadConfigFile(path, {});
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 8080, tls: undefined });
    expect(config.store).toMatchObject({ sqlite: join(dir, "data/proxy.db"), durability: "full" });
    expect(config.limits.maxBodyBytes).toBe(64 * 1024);
    expect(config.log.level).toBe("info");
    expect(config.endpoints[0]?.currencies).toBeUndefined();
    expect(signSession(config.endpoints[0]?.controlKey ?? controlKeyFromText("00"), WORKED)).toBe(WORKED_SIGNATURE);
  });

  it("reads the TLS certificate and key files", () => {
    writeFileSync(join(dir, "cert.pem"), "CERT");
    writeFileSync(join(dir, "key.pem"), "KEY");
    const config = buildConfig(
      {
        server: { tls: { cert: "cert.pem", key: "key.pem" } },
        endpoints: [{ id: "1", controlKey: KEY, operations: ["sale"] }],
      },
      { env: {}, baseDir: dir },
    );
    expect(config.server.tls?.cert.toString()).toBe("CERT");
    expect(config.server.tls?.key.toString()).toBe("KEY");
  });
});

describe("the README's configuration section", () => {
  it("shows a complete file that loads as described", () => {
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const section = readme.slice(
      readme.indexOf("<!-- section:configuration -->"),
      readme.indexOf("<!-- /section:configuration -->"),
    );
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml, "the configuration section has a yaml example").toBeDefined();
    const exampleDir = join(dir, "readme-example");
    mkdirSync(join(exampleDir, "keys"), { recursive: true });
    writeFileSync(join(exampleDir, "keys/2222"), `${KEY2}\n`);
    const path = join(exampleDir, "cp.yaml");
    writeFileSync(path, yaml ?? "");
    const config = loadConfigFile(path, { CP_KEY_1111: KEY });
    expect(config.server).toMatchObject({ host: "127.0.0.1", port: 8080 });
    expect(config.store).toMatchObject({ sqlite: join(exampleDir, "data/proxy.db"), durability: "full" });
    expect(config.endpoints.map((e) => e.id)).toEqual(["1111", "2222"]);
    expect(config.limits.maxBodyBytes).toBe(65536);
    expect(config.log.level).toBe("info");
  });
});

interface Bad {
  readonly what: string;
  readonly ext: "yaml" | "json";
  readonly text: string;
  /** Every pattern must appear in the message. */
  readonly says: readonly RegExp[];
  readonly env?: Record<string, string>;
}

const endpointYaml = (key: string, extra = "") =>
  `endpoints:\n  - id: "1111"\n    controlKey: "${key}"\n    operations: [sale]\n${extra}`;

const BAD: readonly Bad[] = [
  {
    what: "an unknown top-level field",
    ext: "yaml",
    text: `${endpointYaml(KEY)}endpiont: 3\n`,
    says: [/endpiont/, /[Uu]nrecognized key/],
  },
  {
    what: "an unknown nested field",
    ext: "yaml",
    text: `server:\n  hots: 0.0.0.0\n${endpointYaml(KEY)}`,
    says: [/server/, /hots/],
  },
  {
    what: "an unknown endpoint field, next to the key",
    ext: "json",
    text: JSON.stringify({ endpoints: [{ id: "1", controlKey: KEY, operation: ["sale"], operations: ["sale"] }] }),
    says: [/endpoints\[0\]/, /operation/],
  },
  {
    what: "a key with a non-hex letter",
    ext: "yaml",
    text: endpointYaml(BAD_KEY),
    says: [/endpoints\[0\]/, /"1111"/, /hexadecimal/],
  },
  {
    what: "a key with an odd number of digits",
    ext: "yaml",
    text: endpointYaml(KEY.slice(0, -1)),
    says: [/endpoints\[0\]/, /even number/],
  },
  {
    what: "an empty key",
    ext: "json",
    text: JSON.stringify({ endpoints: [{ id: "1", controlKey: "", operations: ["sale"] }] }),
    says: [/endpoints\[0\]/, /hexadecimal/],
  },
  {
    what: "both controlKey and controlKeyEnv",
    ext: "yaml",
    text: endpointYaml(KEY, "    controlKeyEnv: X\n"),
    says: [/endpoints\[0\]/, /exactly one of controlKey, controlKeyEnv or controlKeyFile/],
  },
  {
    what: "two endpoints for sale in EUR",
    ext: "yaml",
    text: `endpoints:
  - { id: "1111", controlKey: "${KEY}", operations: [sale, verification], currencies: [EUR, USD] }
  - { id: "2222", controlKey: "${KEY2}", operations: [sale], currencies: [GBP, EUR] }
`,
    says: [/"1111" and "2222" both serve sale in EUR/],
  },
  {
    what: "two any-currency endpoints for verification",
    ext: "json",
    text: JSON.stringify({
      endpoints: [
        { id: "A", controlKey: KEY, operations: ["verification"] },
        { id: "B", controlKey: KEY2, operations: ["verification", "sale"], currencies: ["EUR"] },
        { id: "C", controlKey: KEY2, operations: ["verification"] },
      ],
    }),
    says: [/"A" and "C" both take any currency for verification/],
  },
  {
    what: "controlKeyEnv naming a variable that is not set",
    ext: "yaml",
    text: `endpoints:\n  - { id: "1", controlKeyEnv: CP_TEST_UNSET_VAR, operations: [sale] }\n`,
    says: [/endpoints\[0\]\.controlKeyEnv/, /CP_TEST_UNSET_VAR is not set/],
  },
  {
    what: "controlKeyEnv naming a variable that is empty",
    ext: "yaml",
    text: `endpoints:\n  - { id: "1", controlKeyEnv: CP_TEST_EMPTY, operations: [sale] }\n`,
    env: { CP_TEST_EMPTY: "" },
    says: [/CP_TEST_EMPTY is not set/],
  },
  {
    what: "controlKeyEnv holding a bad key",
    ext: "yaml",
    text: `endpoints:\n  - { id: "1", controlKeyEnv: CP_TEST_BAD, operations: [sale] }\n`,
    env: { CP_TEST_BAD: BAD_KEY },
    says: [/endpoints\[0\]/, /hexadecimal/],
  },
  {
    what: "controlKeyFile that does not exist",
    ext: "yaml",
    text: `endpoints:\n  - { id: "1", controlKeyFile: no-such-key.txt, operations: [sale] }\n`,
    says: [/endpoints\[0\]\.controlKeyFile/, /no-such-key\.txt/, /ENOENT/],
  },
  {
    what: "a currency that is not ISO 4217",
    ext: "yaml",
    text: endpointYaml(KEY, "    currencies: [EUR, XYZ]\n"),
    says: [/endpoints\[0\]\.currencies\[1\]/, /ISO 4217/],
  },
  {
    what: "an unknown operation",
    ext: "yaml",
    text: `endpoints:\n  - { id: "1", controlKey: "${KEY}", operations: [refund] }\n`,
    says: [/endpoints\[0\]\.operations\[0\]/],
  },
  { what: "no endpoints", ext: "yaml", text: "endpoints: []\n", says: [/endpoints/, /at least one endpoint/] },
  { what: "an empty file", ext: "yaml", text: "", says: [/endpoints/] },
  {
    what: "a port out of range",
    ext: "yaml",
    text: `server: { port: 70000 }\n${endpointYaml(KEY)}`,
    says: [/server\.port/],
  },
  {
    what: "a bad log level",
    ext: "yaml",
    text: `log: { level: loud }\n${endpointYaml(KEY)}`,
    says: [/log\.level/],
  },
  {
    what: "maxBodyBytes below 1 KiB",
    ext: "yaml",
    text: `limits: { maxBodyBytes: 10 }\n${endpointYaml(KEY)}`,
    says: [/limits\.maxBodyBytes/],
  },
  {
    what: "an HTTP/2 idle timeout below 1 s",
    ext: "yaml",
    text: `limits: { http2IdleTimeoutMs: 5 }\n${endpointYaml(KEY)}`,
    says: [/limits\.http2IdleTimeoutMs: must be at least 1000 \(milliseconds\)/],
  },
  {
    what: "an HTTP/2 headers timeout that is not a whole number",
    ext: "yaml",
    text: `limits: { http2HeadersTimeoutMs: 2.5 }\n${endpointYaml(KEY)}`,
    says: [/limits\.http2HeadersTimeoutMs: must be a whole number of milliseconds/],
  },
  {
    what: "an HTTP/2 GOAWAY timeout given as text",
    ext: "yaml",
    text: `limits: { http2GoawayTimeoutMs: "5s" }\n${endpointYaml(KEY)}`,
    says: [/limits\.http2GoawayTimeoutMs: must be a number of milliseconds/],
  },
  {
    what: "a YAML syntax error on the key's line",
    ext: "yaml",
    text: `endpoints:\n  - id: "1"\n    controlKey: ${KEY}\n      operations: [\n`,
    says: [/not valid YAML/, /line 3/],
  },
  {
    what: "an unterminated YAML string holding the key",
    ext: "yaml",
    text: `endpoints:\n  - id: "1"\n    controlKey: "${KEY}\n    operations: [sale]\n`,
    says: [/not valid YAML/],
  },
  {
    what: "a JSON syntax error right before the key",
    ext: "json",
    text: `{"endpoints": [{"id": "1", "controlKey": ${KEY}, "operations": ["sale"]}]}`,
    says: [/not valid JSON/],
  },
  {
    what: "a JSON syntax error after the key",
    ext: "json",
    text: `{\n  "endpoints": [{"id": "1", "controlKey": "${KEY}" "operations": ["sale"]}]\n}`,
    says: [/not valid JSON/, /line 2, column/],
  },
];

describe("loadConfigFile: mistakes", () => {
  it.each(BAD.map((c) => [c.what, c] as const))("refuses %s with a readable message", (_, c) => {
    const path = file(c.ext, c.text);
    const e = configError(() => loadConfigFile(path, c.env ?? {}));
    expect(e.message).toContain(`invalid configuration in ${path}`);
    for (const pattern of c.says) expect(e.message).toMatch(pattern);
    expect(e.problems.length).toBeGreaterThan(0);
    // One line per problem, each worth reading, and no stack or parser dump.
    for (const line of e.problems) {
      expect(line).not.toContain("\n");
      expect(line.length).toBeGreaterThan(10);
    }
    expect(e.message).not.toMatch(/\n\s+at /);
    expectNoSecret(e.message);
  });

  it("lists every problem of a file at once", () => {
    const path = file(
      "yaml",
      `endpoints:
  - { id: "1", controlKey: "${BAD_KEY}", operations: [sale] }
  - { id: "2", controlKeyEnv: CP_TEST_UNSET_VAR, operations: [sale] }
  - { id: "3", controlKeyFile: missing.txt, operations: [sale] }
`,
    );
    const e = configError(() => loadConfigFile(path, {}));
    expect(e.problems).toHaveLength(3);
    expect(e.problems.join("\n")).toMatch(/endpoints\[0\].*hexadecimal/);
    expect(e.problems.join("\n")).toMatch(/endpoints\[1\]\.controlKeyEnv/);
    expect(e.problems.join("\n")).toMatch(/endpoints\[2\]\.controlKeyFile/);
    expectNoSecret(e.message);
  });

  it("refuses a file that cannot be read", () => {
    const e = configError(() => loadConfigFile(join(dir, "absent.yaml"), {}));
    expect(e.message).toMatch(/absent\.yaml/);
    expect(e.message).toMatch(/cannot read the file \(ENOENT\)/);
  });
});

describe("the entry point (node dist/src/main.js)", () => {
  const env = { ...process.env };
  delete env.DATABASE_URL;
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [join(ROOT, "dist/src/main.js"), ...args], {
      cwd: dir,
      env,
      encoding: "utf8",
      timeout: 20_000,
    });

  it.each([
    ["a bad key", "yaml", endpointYaml(BAD_KEY), /hexadecimal/],
    ["an unknown field", "yaml", `${endpointYaml(KEY)}sever: {}\n`, /sever/],
    [
      "a duplicate endpoint",
      "json",
      JSON.stringify({
        endpoints: [
          { id: "1", controlKey: KEY, operations: ["sale"], currencies: ["EUR"] },
          { id: "2", controlKey: KEY2, operations: ["sale"], currencies: ["EUR"] },
        ],
      }),
      /both serve sale in EUR/,
    ],
    [
      "a YAML error on the key's line",
      "yaml",
      `endpoints:\n  - id: "1"\n    controlKey: ${KEY}\n      x: [\n`,
      /not valid YAML/,
    ],
  ])("exits with code 2 and a readable message on %s", (_, ext, text, says) => {
    const result = run("--config", file(ext as string, text as string));
    expect(result.error).toBeUndefined();
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^invalid configuration in /);
    expect(result.stderr).toMatch(says as RegExp);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expectNoSecret(result.stderr);
    expectNoSecret(result.stdout);
  });

  it("exits with code 2 when the file does not exist, and on an unknown flag", () => {
    const missing = run("--config", join(dir, "nowhere.yaml"));
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/nowhere\.yaml/);
    const flag = run("--confg", "x.yaml");
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/usage: npm start -- \[--config FILE\]/);
  });
});

describe("developmentConfig (plain `npm start`)", () => {
  it("creates the development key once, keeps it, and reports it only the first time", () => {
    const dataDir = join(dir, "dev-data");
    const keyFile = join(dataDir, "dev-control-key");

    const first = developmentConfig(dataDir);
    expect(first.firstStartKey).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    expect(readFileSync(keyFile, "utf8").trim()).toBe(first.firstStartKey);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const saved = readFileSync(keyFile, "utf8");

    const second = developmentConfig(dataDir);
    expect(second.firstStartKey).toBeUndefined();
    expect(readFileSync(keyFile, "utf8")).toBe(saved);

    for (const { config } of [first, second]) {
      expect(config.server).toMatchObject({ host: "127.0.0.1", port: 8080, tls: undefined });
      expect(config.store.sqlite).toBe(join(dataDir, "proxy.db"));
      expect(config.endpoints).toHaveLength(1);
      const [endpoint] = config.endpoints;
      expect(endpoint?.id).toBe(DEV_ENDPOINT_ID);
      expect(endpoint?.operations).toEqual(["sale", "verification"]);
      expect(endpoint?.currencies).toBeUndefined();
      // The key the server signs with is the key that was shown and saved.
      const shown = controlKeyFromText(first.firstStartKey ?? "");
      expect(endpoint && signSession(endpoint.controlKey, WORKED)).toBe(signSession(shown, WORKED));
    }
  });

  it("uses a key file that is already there, and makes the data folder when missing", () => {
    const dataDir = join(dir, "dev-existing");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "dev-control-key"), `${KEY}\n`);
    const { config, firstStartKey } = developmentConfig(dataDir);
    expect(firstStartKey).toBeUndefined();
    expect(config.endpoints[0] && signSession(config.endpoints[0].controlKey, WORKED)).toBe(WORKED_SIGNATURE);

    const fresh = developmentConfig(join(dir, "deep/new/folder"));
    expect(fresh.firstStartKey).toBeDefined();
  });
});
