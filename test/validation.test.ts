/**
 * Every documented rule of the two request bodies, in the core: each rule has
 * a failing case with its exact catalogue code and a message naming the field,
 * and the boundary values that must pass. The same cases run through
 * createInitiator on a real SQLite file, which must refuse them the same
 * way and store nothing, and must store the accepted ones.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEndpointDirectory } from "../src/core/endpoints.js";
import { AppError, ERROR_CATALOGUE, type ErrorCode } from "../src/core/error-catalogue.js";
import { type Operation, parseInitiateRequest } from "../src/core/initiate-request.js";
import { createInitiator, hashAccessToken, type Initiator } from "../src/core/initiator.js";
import { controlKeyFromText, signSession } from "../src/core/signature.js";
import { openSqliteStore } from "../src/store/sqlite/store.js";

const TOKEN = "0123456789abcdef0123456789abcdef";
const CONTROL_KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20";

type Body = Record<string, unknown>;

/** A complete, valid sale body; each case changes one thing. */
function validBody(): Body {
  return {
    consumer: {
      device: { serialNumber: "SN-000001", imei: "490154203237518" },
      ipAddresses: ["192.168.1.10"],
    },
    location: { lat: 52.52, lng: 13.405 },
    session: { accessToken: TOKEN },
    transaction: { amountCentis: 1000, currency: "EUR" },
  };
}

/** Sets (or with `undefined`, deletes) the value at a dotted path of a fresh valid body. */
function bodyWith(path: string, value: unknown): Body {
  const body = validBody();
  const keys = path.split(".");
  const last = keys.pop() as string;
  let node = body;
  for (const k of keys) node = node[k] as Body;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return body;
}

/** The AppError a call throws; fails the test when it does not throw one. */
function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (e) {
    if (e instanceof AppError) return e;
    throw e;
  }
  throw new Error("expected the request to be refused, but it was accepted");
}

interface Refused {
  readonly what: string;
  readonly path: string;
  readonly value: unknown;
  readonly code: ErrorCode;
  /** The field the message must name. */
  readonly names: string;
  readonly operation?: Operation;
}

const SN = "consumer.device.serialNumber";
const IP0 = "consumer.ipAddresses[0]";
const emoji = (n: number) => "😀".repeat(n);

const REFUSED: readonly Refused[] = [
  // Required objects, and objects of the wrong type.
  { what: "no consumer", path: "consumer", value: undefined, code: "FIELD_REQUIRED", names: "consumer" },
  { what: "consumer null", path: "consumer", value: null, code: "FIELD_REQUIRED", names: "consumer" },
  { what: "consumer an array", path: "consumer", value: [], code: "FIELD_TYPE", names: "consumer" },
  { what: "consumer a string", path: "consumer", value: "me", code: "FIELD_TYPE", names: "consumer" },
  { what: "no device", path: "consumer.device", value: undefined, code: "FIELD_REQUIRED", names: "consumer.device" },
  { what: "device an array", path: "consumer.device", value: [{}], code: "FIELD_TYPE", names: "consumer.device" },
  { what: "device a string", path: "consumer.device", value: "SN-1", code: "FIELD_TYPE", names: "consumer.device" },
  { what: "no session", path: "session", value: undefined, code: "FIELD_REQUIRED", names: "session" },
  { what: "session a string", path: "session", value: TOKEN, code: "FIELD_TYPE", names: "session" },
  { what: "session an array", path: "session", value: [TOKEN], code: "FIELD_TYPE", names: "session" },
  { what: "no transaction", path: "transaction", value: undefined, code: "FIELD_REQUIRED", names: "transaction" },
  { what: "transaction an array", path: "transaction", value: [], code: "FIELD_TYPE", names: "transaction" },
  { what: "transaction a number", path: "transaction", value: 1000, code: "FIELD_TYPE", names: "transaction" },
  { what: "location an array", path: "location", value: [1, 2], code: "FIELD_TYPE", names: "location" },
  { what: "location a string", path: "location", value: "52.5,13.4", code: "FIELD_TYPE", names: "location" },
  // serialNumber: required, 1-50 characters, no control characters, a string.
  { what: "no serialNumber", path: SN, value: undefined, code: "FIELD_REQUIRED", names: SN },
  { what: "serialNumber null", path: SN, value: null, code: "FIELD_REQUIRED", names: SN },
  { what: "serialNumber empty", path: SN, value: "", code: "FIELD_LENGTH", names: SN },
  { what: "serialNumber 51 chars", path: SN, value: "S".repeat(51), code: "FIELD_LENGTH", names: SN },
  { what: "serialNumber 51 emoji", path: SN, value: emoji(51), code: "FIELD_LENGTH", names: SN },
  { what: "serialNumber with NUL", path: SN, value: "SN\u0000001", code: "FIELD_FORMAT", names: SN },
  { what: "serialNumber with newline", path: SN, value: "SN\n001", code: "FIELD_FORMAT", names: SN },
  { what: "serialNumber with tab", path: SN, value: "SN\t001", code: "FIELD_FORMAT", names: SN },
  { what: "serialNumber with DEL", path: SN, value: "SN\u007f", code: "FIELD_FORMAT", names: SN },
  { what: "serialNumber with C1 control", path: SN, value: "SN\u0085", code: "FIELD_FORMAT", names: SN },
  { what: "serialNumber a number", path: SN, value: 123456, code: "FIELD_TYPE", names: SN },
  { what: "serialNumber an object", path: SN, value: { v: "SN" }, code: "FIELD_TYPE", names: SN },
  // imei: optional, 14-16 decimal digits, a string.
  ...[
    ["13 digits", "4901542032375"],
    ["17 digits", "49015420323751800"],
    ["letters", "49015420323751A"],
    ["spaces", "49015420 323751"],
    ["empty", ""],
  ].map(([what, value]) => ({
    what: `imei ${what}`,
    path: "consumer.device.imei",
    value,
    code: "FIELD_FORMAT" as const,
    names: "consumer.device.imei",
  })),
  {
    what: "imei a number",
    path: "consumer.device.imei",
    value: 490154203237518,
    code: "FIELD_TYPE",
    names: "consumer.device.imei",
  },
  // ipAddresses: optional list of dotted IPv4 addresses of 7-15 characters.
  {
    what: "ipAddresses a string",
    path: "consumer.ipAddresses",
    value: "1.2.3.4",
    code: "FIELD_TYPE",
    names: "consumer.ipAddresses",
  },
  {
    what: "ipAddresses an object",
    path: "consumer.ipAddresses",
    value: { 0: "1.2.3.4" },
    code: "FIELD_TYPE",
    names: "consumer.ipAddresses",
  },
  { what: "an address a number", path: "consumer.ipAddresses", value: [16909060], code: "FIELD_TYPE", names: IP0 },
  { what: "an address null", path: "consumer.ipAddresses", value: [null], code: "FIELD_TYPE", names: IP0 },
  {
    what: "the second address bad",
    path: "consumer.ipAddresses",
    value: ["1.2.3.4", "1.2.3.4.5"],
    code: "FIELD_FORMAT",
    names: "consumer.ipAddresses[1]",
  },
  { what: "address 1.2.3", path: "consumer.ipAddresses", value: ["1.2.3"], code: "FIELD_LENGTH", names: IP0 },
  { what: "address 256.1.1.1", path: "consumer.ipAddresses", value: ["256.1.1.1"], code: "FIELD_FORMAT", names: IP0 },
  { what: "address 01.2.3.4", path: "consumer.ipAddresses", value: ["01.2.3.4"], code: "FIELD_FORMAT", names: IP0 },
  { what: "address 1.2.3.4.", path: "consumer.ipAddresses", value: ["1.2.3.4."], code: "FIELD_FORMAT", names: IP0 },
  { what: "address a.b.c.d", path: "consumer.ipAddresses", value: ["aa.bb.cc.dd"], code: "FIELD_FORMAT", names: IP0 },
  {
    what: "address over 15 chars",
    path: "consumer.ipAddresses",
    value: ["100.100.100.1000"],
    code: "FIELD_LENGTH",
    names: IP0,
  },
  { what: "address IPv6", path: "consumer.ipAddresses", value: ["::1:2:3:4:5"], code: "FIELD_FORMAT", names: IP0 },
  // location: when given, lat and lng required, finite, in range.
  { what: "location without lat", path: "location", value: { lng: 1 }, code: "FIELD_REQUIRED", names: "location.lat" },
  { what: "location without lng", path: "location", value: { lat: 1 }, code: "FIELD_REQUIRED", names: "location.lng" },
  { what: "location empty", path: "location", value: {}, code: "FIELD_REQUIRED", names: "location.lat" },
  { what: "lat 90.000001", path: "location.lat", value: 90.000001, code: "FIELD_RANGE", names: "location.lat" },
  { what: "lat -91", path: "location.lat", value: -91, code: "FIELD_RANGE", names: "location.lat" },
  { what: "lng 180.5", path: "location.lng", value: 180.5, code: "FIELD_RANGE", names: "location.lng" },
  { what: "lng -181", path: "location.lng", value: -181, code: "FIELD_RANGE", names: "location.lng" },
  // lat and lng are JSON numbers: no string form (beyond proto3 JSON's words for non-finite values).
  ...['"91"', '"45"', '" 45"', '"45 "', '"0x10"', '"1e1"', '"+5"', '"-120.25"'].map((text) => ({
    what: `lat ${text}`,
    path: "location.lat",
    value: JSON.parse(text) as string,
    code: "FIELD_TYPE" as const,
    names: "location.lat",
  })),
  { what: 'lng "13.4"', path: "location.lng", value: "13.4", code: "FIELD_TYPE", names: "location.lng" },
  { what: "lat NaN number", path: "location.lat", value: Number.NaN, code: "FIELD_RANGE", names: "location.lat" },
  { what: 'lat "NaN"', path: "location.lat", value: "NaN", code: "FIELD_RANGE", names: "location.lat" },
  { what: 'lng "Infinity"', path: "location.lng", value: "Infinity", code: "FIELD_RANGE", names: "location.lng" },
  { what: 'lng "-Infinity"', path: "location.lng", value: "-Infinity", code: "FIELD_RANGE", names: "location.lng" },
  {
    what: "lng Infinity",
    path: "location.lng",
    value: Number.POSITIVE_INFINITY,
    code: "FIELD_RANGE",
    names: "location.lng",
  },
  { what: "lat text", path: "location.lat", value: "north", code: "FIELD_TYPE", names: "location.lat" },
  { what: "lat empty string", path: "location.lat", value: "", code: "FIELD_TYPE", names: "location.lat" },
  { what: "lat true", path: "location.lat", value: true, code: "FIELD_TYPE", names: "location.lat" },
  // accessToken: required, 32-128 characters, a string.
  {
    what: "no accessToken",
    path: "session.accessToken",
    value: undefined,
    code: "FIELD_REQUIRED",
    names: "session.accessToken",
  },
  {
    what: "accessToken 31 chars",
    path: "session.accessToken",
    value: "a".repeat(31),
    code: "FIELD_LENGTH",
    names: "session.accessToken",
  },
  {
    what: "accessToken 129 chars",
    path: "session.accessToken",
    value: "a".repeat(129),
    code: "FIELD_LENGTH",
    names: "session.accessToken",
  },
  {
    what: "accessToken a number",
    path: "session.accessToken",
    value: 1234567890,
    code: "FIELD_TYPE",
    names: "session.accessToken",
  },
  // currency: required, three upper-case letters, a real ISO 4217 code.
  {
    what: "no currency",
    path: "transaction.currency",
    value: undefined,
    code: "FIELD_REQUIRED",
    names: "transaction.currency",
  },
  {
    what: 'currency "eur"',
    path: "transaction.currency",
    value: "eur",
    code: "FIELD_FORMAT",
    names: "transaction.currency",
  },
  {
    what: 'currency "EURO"',
    path: "transaction.currency",
    value: "EURO",
    code: "FIELD_FORMAT",
    names: "transaction.currency",
  },
  {
    what: 'currency "EU"',
    path: "transaction.currency",
    value: "EU",
    code: "FIELD_FORMAT",
    names: "transaction.currency",
  },
  {
    what: 'currency "XYZ"',
    path: "transaction.currency",
    value: "XYZ",
    code: "CURRENCY_UNKNOWN",
    names: "transaction.currency",
  },
  { what: "currency 978", path: "transaction.currency", value: 978, code: "FIELD_TYPE", names: "transaction.currency" },
  // amountCentis (sale): required whole number > 0, at most 2^53 - 1, number or integer string.
  {
    what: "no amountCentis",
    path: "transaction.amountCentis",
    value: undefined,
    code: "FIELD_REQUIRED",
    names: "transaction.amountCentis",
  },
  ...(
    [
      ["0", 0, "FIELD_RANGE"],
      ["-1", -1, "FIELD_RANGE"],
      ['"-1"', "-1", "FIELD_RANGE"],
      ['"0"', "0", "FIELD_RANGE"],
      ["10.5", 10.5, "FIELD_FORMAT"],
      ['"10.5"', "10.5", "FIELD_FORMAT"],
      ['"abc"', "abc", "FIELD_FORMAT"],
      ['""', "", "FIELD_FORMAT"],
      ['"1e3"', "1e3", "FIELD_FORMAT"],
      ['" 1000"', " 1000", "FIELD_FORMAT"],
      ['"1000 "', "1000 ", "FIELD_FORMAT"],
      ['"0x10"', "0x10", "FIELD_FORMAT"],
      ['"1e1"', "1e1", "FIELD_FORMAT"],
      ['"01015"', "01015", "FIELD_FORMAT"],
      ['"+5"', "+5", "FIELD_FORMAT"],
      ['"1015.0"', "1015.0", "FIELD_FORMAT"],
      ['"-0"', "-0", "FIELD_RANGE"],
      ["2^53", 2 ** 53, "FIELD_RANGE"],
      ['"9007199254740992"', "9007199254740992", "FIELD_RANGE"],
      ["1e300", 1e300, "FIELD_RANGE"],
      ["true", true, "FIELD_TYPE"],
      ["a list", [1000], "FIELD_TYPE"],
    ] as const
  ).map(([what, value, code]) => ({
    what: `amountCentis ${what}`,
    path: "transaction.amountCentis",
    value,
    code,
    names: "transaction.amountCentis",
  })),
  // A lone UTF-16 surrogate has no UTF-8 form: refused in every text field.
  ...(
    [
      [SN, "SN-\ud800"],
      [SN, "\udc00SN"],
      ["consumer.device.imei", "49015420323751\ud800"],
      ["consumer.ipAddresses", ["1.2.3.\udfff"]],
      ["session.accessToken", `${"a".repeat(40)}\ud83d`],
      ["transaction.currency", "EU\ud800"],
    ] as const
  ).map(([path, value]) => ({
    what: `a lone surrogate in ${path}: ${JSON.stringify(value)}`,
    path,
    value,
    code: "FIELD_FORMAT" as const,
    names: path === "consumer.ipAddresses" ? IP0 : path,
  })),
  // A verification has the same rules apart from the amount.
  {
    what: "verification without serialNumber",
    path: SN,
    value: undefined,
    code: "FIELD_REQUIRED",
    names: SN,
    operation: "verification",
  },
  {
    what: 'verification currency "XYZ"',
    path: "transaction.currency",
    value: "XYZ",
    code: "CURRENCY_UNKNOWN",
    names: "transaction.currency",
    operation: "verification",
  },
];

interface Accepted {
  readonly what: string;
  readonly path: string;
  readonly value: unknown;
  readonly operation?: Operation;
  /** What the parsed request holds afterwards, when worth checking. */
  readonly expect?: Record<string, unknown>;
}

const ACCEPTED: readonly Accepted[] = [
  { what: "serialNumber 1 char", path: SN, value: "S", expect: { serialNumber: "S" } },
  { what: "serialNumber 50 chars", path: SN, value: "S".repeat(50) },
  { what: "serialNumber 50 emoji (one character each)", path: SN, value: emoji(50) },
  { what: "serialNumber with spaces and accents", path: SN, value: "Pixel 8 – Jürgen’s" },
  { what: "imei 14 digits", path: "consumer.device.imei", value: "49015420323751" },
  {
    what: "imei 16 digits",
    path: "consumer.device.imei",
    value: "4901542032375181",
    expect: { imei: "4901542032375181" },
  },
  { what: "imei absent", path: "consumer.device.imei", value: undefined, expect: { imei: undefined } },
  { what: "imei null (= absent)", path: "consumer.device.imei", value: null, expect: { imei: undefined } },
  { what: "ipAddresses absent", path: "consumer.ipAddresses", value: undefined, expect: { ipAddresses: [] } },
  { what: "ipAddresses null (= absent)", path: "consumer.ipAddresses", value: null, expect: { ipAddresses: [] } },
  { what: "ipAddresses empty", path: "consumer.ipAddresses", value: [], expect: { ipAddresses: [] } },
  {
    what: "ipAddresses 7 and 15 chars",
    path: "consumer.ipAddresses",
    value: ["1.2.3.4", "255.255.255.255"],
    expect: { ipAddresses: ["1.2.3.4", "255.255.255.255"] },
  },
  { what: "ipAddress 0.0.0.0", path: "consumer.ipAddresses", value: ["0.0.0.0"] },
  { what: "location absent", path: "location", value: undefined, expect: { location: undefined } },
  { what: "location null (= absent)", path: "location", value: null, expect: { location: undefined } },
  {
    what: "lat -90, lng -180",
    path: "location",
    value: { lat: -90, lng: -180 },
    expect: { location: { lat: -90, lng: -180 } },
  },
  {
    what: "lat 90, lng 180",
    path: "location",
    value: { lat: 90, lng: 180 },
    expect: { location: { lat: 90, lng: 180 } },
  },
  { what: "lat 0, lng 0", path: "location", value: { lat: 0, lng: 0 }, expect: { location: { lat: 0, lng: 0 } } },
  { what: "accessToken 32 chars", path: "session.accessToken", value: "a".repeat(32) },
  { what: "accessToken 128 chars", path: "session.accessToken", value: "a".repeat(128) },
  { what: "currency USD", path: "transaction.currency", value: "USD", expect: { currency: "USD" } },
  { what: 'amountCentis "1000"', path: "transaction.amountCentis", value: "1000", expect: { amountCentis: 1000 } },
  { what: "amountCentis 1000", path: "transaction.amountCentis", value: 1000, expect: { amountCentis: 1000 } },
  { what: "amountCentis 1", path: "transaction.amountCentis", value: 1, expect: { amountCentis: 1 } },
  {
    what: "amountCentis 2^53 - 1",
    path: "transaction.amountCentis",
    value: 9007199254740991,
    expect: { amountCentis: 9007199254740991 },
  },
  {
    what: 'amountCentis "9007199254740991"',
    path: "transaction.amountCentis",
    value: "9007199254740991",
    expect: { amountCentis: 9007199254740991 },
  },
  { what: "an unknown top-level field", path: "extra", value: { anything: [1, 2] } },
  { what: "an unknown device field", path: "consumer.device.model", value: "Pixel" },
  { what: "an unknown session field", path: "session.sessionToken", value: 42 },
  { what: "an unknown transaction field", path: "transaction.description", value: null },
  // A verification ignores the amount entirely, whatever it holds.
  ...[undefined, "abc", -1, 10.5, null].map((value) => ({
    what: `verification with amountCentis ${JSON.stringify(value)}`,
    path: "transaction.amountCentis",
    value,
    operation: "verification" as const,
    expect: { amountCentis: undefined, operation: "verification" },
  })),
];

describe("parseInitiateRequest", () => {
  it("accepts the valid body and returns the typed request", () => {
    expect(parseInitiateRequest("sale", validBody())).toEqual({
      operation: "sale",
      serialNumber: "SN-000001",
      imei: "490154203237518",
      ipAddresses: ["192.168.1.10"],
      location: { lat: 52.52, lng: 13.405 },
      accessToken: TOKEN,
      currency: "EUR",
      amountCentis: 1000,
    });
  });

  it.each([
    ["an array", []],
    ["a string", "{}"],
    ["a number", 1],
    ["null", null],
    ["true", true],
  ])("refuses a body that is %s with BODY_NOT_OBJECT", (_, body) => {
    expect(refusal(() => parseInitiateRequest("sale", body)).code).toBe("BODY_NOT_OBJECT");
  });

  it.each(REFUSED.map((c) => [c.what, c] as const))("refuses %s", (_, c) => {
    const e = refusal(() => parseInitiateRequest(c.operation ?? "sale", bodyWith(c.path, c.value)));
    expect(e.code).toBe(c.code);
    expect(e.spec.cause).toBe("INVALID_REQUEST");
    expect(e.toBody().error.cause).toBe("INVALID_REQUEST");
    expect(e.message).toContain(c.names);
    // The message states the rule, not just the field.
    expect(e.message.length).toBeGreaterThan(c.names.length + 8);
  });

  it.each(ACCEPTED.map((c) => [c.what, c] as const))("accepts %s", (_, c) => {
    const request = parseInitiateRequest(c.operation ?? "sale", bodyWith(c.path, c.value));
    if (c.expect) expect(request).toMatchObject(c.expect);
  });

  it("names the rule in the message", () => {
    const msg = (path: string, value: unknown) =>
      refusal(() => parseInitiateRequest("sale", bodyWith(path, value))).message;
    expect(msg(SN, "S".repeat(51))).toMatch(/1-50/);
    expect(msg("session.accessToken", "a".repeat(31))).toMatch(/32-128/);
    expect(msg("consumer.device.imei", "123")).toMatch(/14-16/);
    expect(msg("location.lat", 91)).toMatch(/-90 and 90/);
    expect(msg("location.lng", 181)).toMatch(/-180 and 180/);
    expect(msg("transaction.currency", "XYZ")).toMatch(/ISO 4217/);
    expect(msg("transaction.amountCentis", 0)).toMatch(/greater than 0/);
  });

  it("counts the length of a serial number in characters, not UTF-16 units", () => {
    const request = parseInitiateRequest("sale", bodyWith(SN, emoji(50)));
    expect(request.serialNumber).toBe(emoji(50));
    expect(request.serialNumber.length).toBe(100);
  });
});

// These cases are about validation and endpoints, not tokens: every
// well-formed token passes (test/access-tokens.test.ts covers the real check).
const acceptAnyToken = () => undefined;

describe("createInitiator with a real SQLite store", () => {
  let dir: string;
  let store: ReturnType<typeof openSqliteStore>;
  let service: Initiator;
  const key = controlKeyFromText(CONTROL_KEY);
  const rows = () => (store.db.prepare("SELECT count(*) AS n FROM sessions").get() as { n: number }).n;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cp-validation-"));
    store = openSqliteStore({ path: join(dir, "sessions.db") });
    service = createInitiator({
      endpoints: createEndpointDirectory([
        { id: "1111", controlKey: key, operations: ["sale", "verification"], currencies: undefined },
        { id: "2222", controlKey: key, operations: ["sale"], currencies: ["USD"] },
        { id: "3333", controlKey: key, operations: ["verification"], currencies: ["JPY"] },
      ]),
      store,
      checkAccessToken: acceptAnyToken,
    });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function serviceRefusal(operation: Operation, body: unknown): Promise<AppError> {
    const outcome = await service.initiate(operation, body).then(
      (result) => new Error(`accepted: ${JSON.stringify(result)}`),
      (e: unknown) => e,
    );
    if (outcome instanceof AppError) return outcome;
    throw outcome;
  }

  it("refuses every invalid case with the same code and message as the parser, storing nothing", async () => {
    const before = rows();
    for (const c of REFUSED) {
      const operation = c.operation ?? "sale";
      const body = bodyWith(c.path, c.value);
      const direct = refusal(() => parseInitiateRequest(operation, body));
      const viaService = await serviceRefusal(operation, body);
      expect({ what: c.what, code: viaService.code, message: viaService.message }).toEqual({
        what: c.what,
        code: direct.code,
        message: direct.message,
      });
      expect(viaService.toBody().error).toEqual({
        cause: ERROR_CATALOGUE[c.code].cause,
        code: c.code,
        message: direct.message,
      });
    }
    expect(rows()).toBe(before);
  });

  it("stores every accepted case with the values it validated, before answering", async () => {
    for (const c of ACCEPTED) {
      const operation = c.operation ?? "sale";
      const body = bodyWith(c.path, c.value);
      const request = parseInitiateRequest(operation, body);
      const result = await service.initiate(operation, body);
      const stored = await store.findSession(result.invoiceId);
      expect(stored, c.what).toBeDefined();
      expect(stored, c.what).toMatchObject({
        operation,
        endpointId: result.endpointId,
        nonce: result.session.nonce,
        signature: result.session.signature,
        serialNumber: request.serialNumber,
        imei: request.imei,
        ipAddresses: request.ipAddresses,
        location: request.location,
        currency: request.currency,
        amountCentis: request.amountCentis,
        accessTokenHash: hashAccessToken(request.accessToken),
      });
      expect(
        signSession(key, {
          accessToken: request.accessToken,
          serialNumber: request.serialNumber,
          endpointId: result.endpointId,
          nonce: result.session.nonce,
          invoiceId: result.invoiceId,
          amountCentis: request.amountCentis,
          currency: request.currency,
        }),
        c.what,
      ).toBe(result.session.signature);
    }
  });

  it("picks the endpoint by operation and currency", async () => {
    const sale = (currency: string) => bodyWith("transaction.currency", currency);
    expect((await service.initiate("sale", sale("USD"))).endpointId).toBe("2222");
    expect((await service.initiate("sale", sale("EUR"))).endpointId).toBe("1111");
    expect((await service.initiate("verification", sale("USD"))).endpointId).toBe("1111");
    expect((await service.initiate("verification", sale("JPY"))).endpointId).toBe("3333");
  });

  it("answers CURRENCY_NOT_ACCEPTED (FILTERED) when no endpoint serves the currency, storing nothing", async () => {
    const only = createInitiator({
      endpoints: createEndpointDirectory([
        { id: "4444", controlKey: key, operations: ["sale"], currencies: ["EUR", "USD"] },
      ]),
      store,
      checkAccessToken: acceptAnyToken,
    });
    const before = rows();
    const refuse = (operation: Operation, currency: string) =>
      only.initiate(operation, bodyWith("transaction.currency", currency)).then(
        () => undefined,
        (e: unknown) => e as AppError,
      );
    const gbp = await refuse("sale", "GBP");
    expect(gbp?.toBody().error).toMatchObject({ cause: "FILTERED", code: "CURRENCY_NOT_ACCEPTED" });
    expect(gbp?.message).toContain("GBP");
    expect(gbp?.spec.httpStatus).toBe(403);
    expect((await refuse("verification", "EUR"))?.code).toBe("CURRENCY_NOT_ACCEPTED");
    // Validation comes first: an invalid currency is INVALID_REQUEST, not FILTERED.
    expect((await refuse("sale", "XYZ"))?.code).toBe("CURRENCY_UNKNOWN");
    expect(rows()).toBe(before);
  });

  it("draws a fresh invoiceId and nonce for each session", async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => service.initiate("sale", validBody())));
    expect(new Set(results.map((r) => r.invoiceId)).size).toBe(20);
    expect(new Set(results.map((r) => r.session.nonce)).size).toBe(20);
    for (const r of results) {
      expect(r.invoiceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(r.session.nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(r.session.signature).toMatch(/^[0-9A-F]{40}$/);
    }
  });
});
