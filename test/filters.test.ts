/**
 * Risk filters end to end: a real server with a `filters:` configuration, one
 * refusal and one near-miss acceptance per rule, over the JSON paths (fetch,
 * HTTP/1.1) and gRPC (connect-node, HTTP/2); the refusal's log line names the
 * rule and no session row is written; rule mistakes stop the start; velocity
 * holds across two instances sharing one PostgreSQL database.
 */
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import Database from "better-sqlite3";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema, InitiateService } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { buildConfig, ConfigError } from "../src/config/load-config.js";
import { createServer } from "../src/server.js";
import { createTestDatabase, pgIt } from "./support/postgres.js";
import { startTestServer, TEST_CONTROL_KEY, type TestServer } from "./support/test-server.js";

const FILTERS = {
  amounts: { EUR: { min: 100, max: 500000 } },
  blockedDevices: { serialNumbers: ["SN-BAD"], imeis: ["490154203237518"] },
  // Allowed: 192.0.2.0/24 and 203.0.112.0-203.0.113.255, minus the blocked 203.0.113.0/24.
  ipAddresses: { block: ["203.0.113.0/24"], allow: ["192.0.2.0/24", "203.0.112.0/23"], required: true },
  locations: { required: true, allow: [{ minLat: 35, maxLat: 72, minLng: -25, maxLng: 45 }] },
  velocity: {
    perDevice: { max: 3, windowSeconds: 60 },
    perToken: { max: 2, windowSeconds: 60 },
    perIp: { max: 4, windowSeconds: 60 },
  },
};

type Protocol = "json" | "grpc";

interface Outcome {
  ok: boolean;
  /** HTTP status (JSON) or the Connect code name (gRPC). */
  status: number | string;
  error?: { cause: string; code: string; message: string };
  requestId: string | null;
}

// Every request gets its own serial number and IP address unless a test says
// otherwise, so velocity counts of one test never spill into another.
let unique = 0;
function next(): number {
  unique += 1;
  return unique;
}

interface Shape {
  operation?: "sale" | "verification";
  serialNumber?: string;
  imei?: string;
  ipAddresses?: string[] | undefined;
  location?: { lat: number; lng: number } | undefined;
  amountCentis?: number;
  currency?: string;
  accessToken?: string;
}

let server: TestServer;
let grpc: ReturnType<typeof createClient<typeof InitiateService>>;

/** A real token for the device, from open issuance (`POST /auth/access-token`). */
async function tokenFor(serialNumber: string, url = server.url): Promise<string> {
  const res = await fetch(`${url}/auth/access-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ consumer: { device: { serialNumber } } }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { session: { accessToken: string } }).session.accessToken;
}

async function call(protocol: Protocol, shape: Shape): Promise<Outcome> {
  const n = next();
  const operation = shape.operation ?? "sale";
  const serialNumber = shape.serialNumber ?? `SN-F-${n}`;
  const accessToken = shape.accessToken ?? (await tokenFor(serialNumber));
  const ipAddresses = "ipAddresses" in shape ? shape.ipAddresses : [`192.0.2.${n % 250}`];
  const location = "location" in shape ? shape.location : { lat: 46.05, lng: 14.5 };
  const currency = shape.currency ?? "EUR";
  const amountCentis = operation === "sale" ? (shape.amountCentis ?? 1015) : undefined;
  const device = { serialNumber, ...(shape.imei ? { imei: shape.imei } : {}) };

  if (protocol === "json") {
    const body = {
      consumer: { device, ...(ipAddresses ? { ipAddresses } : {}) },
      ...(location ? { location } : {}),
      session: { accessToken },
      transaction: { currency, ...(amountCentis === undefined ? {} : { amountCentis }) },
    };
    const path = operation === "sale" ? "/sale/initiate-sale" : "/verification/initiate-verification";
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const json = (await res.json()) as { error?: Outcome["error"] };
    return { ok: res.ok, status: res.status, error: json.error, requestId: res.headers.get("x-request-id") };
  }

  const message = {
    consumer: { device, ipAddresses: ipAddresses ?? [] },
    ...(location ? { location } : {}),
    session: { accessToken },
  };
  let requestId: string | null = null;
  const onHeader = (h: Headers) => {
    requestId = h.get("x-request-id");
  };
  try {
    if (operation === "sale") {
      await grpc.sale({ ...message, transaction: { currency, amountCentis: BigInt(amountCentis ?? 0) } }, { onHeader });
    } else {
      await grpc.verification({ ...message, transaction: { currency } }, { onHeader });
    }
    return { ok: true, status: "OK", requestId };
  } catch (e) {
    const err = ConnectError.from(e);
    const [detail] = err.findDetails(ErrorDetailSchema);
    return {
      ok: false,
      status: Code[err.code],
      error: detail && { cause: detail.cause, code: detail.code, message: detail.message },
      requestId: requestId ?? err.metadata.get("x-request-id"),
    };
  }
}

function sessionRows(serialNumber: string): number {
  const db = new Database(server.sqlitePath, { readonly: true, fileMustExist: true });
  try {
    return Number(db.prepare("SELECT count(*) FROM sessions WHERE serial_number = ?").pluck().get(serialNumber));
  } finally {
    db.close();
  }
}

/** Expects a FILTERED refusal with this code, a log line naming `rule`, and no session row. */
async function expectRefused(protocol: Protocol, shape: Shape, code: string, rule: string): Promise<Outcome> {
  const serialNumber = shape.serialNumber ?? `SN-R-${next()}`;
  const before = sessionRows(serialNumber);
  const out = await call(protocol, { ...shape, serialNumber });
  expect(out.ok).toBe(false);
  expect(out.error?.cause).toBe("FILTERED");
  expect(out.error?.code).toBe(code);
  expect(out.status).toBe(protocol === "json" ? 403 : "PermissionDenied");
  expect(out.error?.message).toContain(`rule ${rule.split(".").slice(0, 2).join(".")}`);
  expect(out.requestId).toBeTruthy();
  const line = await server.logLineFor(out.requestId ?? "");
  expect(line?.code).toBe(code);
  expect(String(line?.reason)).toContain(rule);
  expect(sessionRows(serialNumber)).toBe(before);
  return out;
}

async function expectAccepted(protocol: Protocol, shape: Shape): Promise<void> {
  const serialNumber = shape.serialNumber ?? `SN-A-${next()}`;
  const out = await call(protocol, { ...shape, serialNumber });
  expect(out.error).toBeUndefined();
  expect(out.ok).toBe(true);
  expect(sessionRows(serialNumber)).toBeGreaterThan(0);
}

beforeAll(async () => {
  server = await startTestServer({ config: { filters: FILTERS, auth: { openIssuance: true } } });
  grpc = createClient(InitiateService, createGrpcTransport({ baseUrl: server.url }));
});
afterAll(async () => {
  await server?.close();
});

describe.each<Protocol>(["json", "grpc"])("filters over %s", (protocol) => {
  it("currency not accepted: refused for GBP, accepted for USD", async () => {
    const out = await call(protocol, { currency: "GBP" });
    expect(out.error?.code).toBe("CURRENCY_NOT_ACCEPTED");
    expect(out.error?.cause).toBe("FILTERED");
    expect(out.status).toBe(protocol === "json" ? 403 : "PermissionDenied");
    await expectAccepted(protocol, { currency: "USD", amountCentis: 1 });
  });

  it("amounts: below the minimum is refused, the minimum itself accepted", async () => {
    await expectRefused(protocol, { amountCentis: 99 }, "AMOUNT_BELOW_MINIMUM", "filters.amounts");
    await expectAccepted(protocol, { amountCentis: 100 });
  });

  it("amounts: above the maximum is refused, the maximum itself accepted", async () => {
    await expectRefused(protocol, { amountCentis: 500001 }, "AMOUNT_ABOVE_MAXIMUM", "filters.amounts");
    await expectAccepted(protocol, { amountCentis: 500000 });
  });

  it("amounts do not apply to verifications", async () => {
    await expectAccepted(protocol, { operation: "verification" });
  });

  it("blocked serial number: refused; a serial differing in case is accepted", async () => {
    const out = await expectRefused(
      protocol,
      { serialNumber: "SN-BAD", operation: "verification" },
      "DEVICE_BLOCKED",
      "filters.blockedDevices.serialNumbers",
    );
    expect(out.error?.message).not.toContain("SN-BAD");
    await expectAccepted(protocol, { serialNumber: `sn-bad-${protocol}` });
  });

  it("blocked IMEI: refused; an IMEI one digit off is accepted", async () => {
    const out = await expectRefused(
      protocol,
      { imei: "490154203237518" },
      "DEVICE_BLOCKED",
      "filters.blockedDevices.imeis",
    );
    expect(out.error?.message).not.toContain("490154203237518");
    await expectAccepted(protocol, { imei: "490154203237519" });
  });

  it("IP required: refused without addresses, accepted with one", async () => {
    await expectRefused(protocol, { ipAddresses: undefined }, "IP_ADDRESS_REQUIRED", "filters.ipAddresses.required");
    await expectAccepted(protocol, { ipAddresses: ["192.0.2.200"] });
  });

  it("blocked range: any address inside refuses; the address just below the range is accepted", async () => {
    const out = await expectRefused(
      protocol,
      { ipAddresses: ["192.0.2.1", "203.0.113.0"] },
      "IP_ADDRESS_BLOCKED",
      "filters.ipAddresses.block",
    );
    expect(out.error?.message).toContain("consumer.ipAddresses[1]");
    expect(out.error?.message).not.toContain("203.0.113");
    await expectAccepted(protocol, { ipAddresses: ["203.0.112.255"] });
  });

  it("allowlist: an address outside refuses; the last address inside is accepted", async () => {
    const out = await expectRefused(
      protocol,
      { ipAddresses: ["192.0.3.0"] },
      "IP_ADDRESS_NOT_ALLOWED",
      "filters.ipAddresses.allow",
    );
    expect(out.error?.message).not.toContain("192.0.2");
    await expectAccepted(protocol, { ipAddresses: ["192.0.2.255"] });
  });

  it("location required: refused without location, accepted with one", async () => {
    await expectRefused(protocol, { location: undefined }, "LOCATION_REQUIRED", "filters.locations.required");
    await expectAccepted(protocol, { location: { lat: 60, lng: 10 } });
  });

  it("location boxes: just outside refuses; the box's edge is accepted", async () => {
    await expectRefused(
      protocol,
      { location: { lat: 34.999, lng: 10 } },
      "LOCATION_NOT_ALLOWED",
      "filters.locations.allow",
    );
    await expectRefused(
      protocol,
      { location: { lat: 50, lng: 45.001 } },
      "LOCATION_NOT_ALLOWED",
      "filters.locations.allow",
    );
    await expectAccepted(protocol, { location: { lat: 35, lng: 45 } });
    await expectAccepted(protocol, { location: { lat: 72, lng: -25 } });
  });

  it("velocity per device: the limit is accepted, one more refused", async () => {
    const serialNumber = `SN-VD-${protocol}`;
    for (let i = 0; i < 3; i++) await expectAccepted(protocol, { serialNumber });
    await expectRefused(protocol, { serialNumber }, "VELOCITY_DEVICE", "filters.velocity.perDevice");
  });

  it("velocity per token: the limit is accepted, one more refused", async () => {
    const serialNumber = `SN-VT-${protocol}`;
    const accessToken = await tokenFor(serialNumber);
    for (let i = 0; i < 2; i++) await expectAccepted(protocol, { serialNumber, accessToken });
    const out = await call(protocol, { serialNumber, accessToken });
    expect(out.error?.code).toBe("VELOCITY_TOKEN");
    expect(out.error?.message).toContain("rule filters.velocity.perToken");
    // The refused attempt counted too (documented): the device is now at 3 of
    // 3, so a fresh token for it is refused by the per-device limit.
    const fresh = await call(protocol, { serialNumber, accessToken: await tokenFor(serialNumber) });
    expect(fresh.error?.code).toBe("VELOCITY_DEVICE");
  });

  it("velocity per IP: the limit is accepted, one more refused, whichever address of the request", async () => {
    const ip = protocol === "json" ? "203.0.112.7" : "203.0.112.8";
    for (let i = 0; i < 4; i++) await expectAccepted(protocol, { ipAddresses: [ip] });
    await expectRefused(protocol, { ipAddresses: ["192.0.2.99", ip] }, "VELOCITY_IP", "filters.velocity.perIp");
  });
});

describe("metrics", () => {
  it("refusals are counted in cp_requests_total by cause and code", async () => {
    const count = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      const line = text
        .split("\n")
        .find(
          (l) =>
            l.startsWith("cp_requests_total{") &&
            l.includes('protocol="json"') &&
            l.includes('cause="FILTERED"') &&
            l.includes('code="LOCATION_NOT_ALLOWED"'),
        );
      return line === undefined ? 0 : Number(line.split(" ").at(-1));
    };
    const before = await count();
    await expectRefused("json", { location: { lat: -10, lng: 0 } }, "LOCATION_NOT_ALLOWED", "filters.locations.allow");
    await expect.poll(count).toBe(before + 1);
  });
});

describe("velocity under concurrency (SQLite)", () => {
  it("a burst from one device gets exactly the limit through", async () => {
    const serialNumber = "SN-BURST";
    const tokens = await Promise.all(Array.from({ length: 8 }, () => tokenFor(serialNumber)));
    const outs = await Promise.all(tokens.map((accessToken) => call("json", { serialNumber, accessToken })));
    expect(outs.filter((o) => o.ok)).toHaveLength(3);
    expect(outs.filter((o) => !o.ok).map((o) => o.error?.code)).toEqual(Array(5).fill("VELOCITY_DEVICE"));
    expect(sessionRows(serialNumber)).toBe(3);
  });
});

describe("rule order", () => {
  it("static rules run before velocity, so statically refused attempts do not count", async () => {
    const serialNumber = "SN-ORDER";
    for (let i = 0; i < 5; i++) {
      const out = await call("json", { serialNumber, amountCentis: 1 });
      expect(out.error?.code).toBe("AMOUNT_BELOW_MINIMUM");
    }
    await expectAccepted("json", { serialNumber });
  });

  it("the currency check comes before the amount rule", async () => {
    const out = await call("json", { currency: "GBP", amountCentis: 1 });
    expect(out.error?.code).toBe("CURRENCY_NOT_ACCEPTED");
  });
});

describe("configuration errors in rules stop the start", () => {
  const base = {
    endpoints: [{ id: "1", controlKey: "B17F59B4-A7DC-41B4-8FF9-37D986B43D20", operations: ["sale"] }],
  };
  const problems = (filters: unknown): string[] => {
    try {
      buildConfig({ ...base, filters }, { env: {}, baseDir: "/tmp" });
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return [...(e as ConfigError).problems];
    }
    throw new Error("expected a ConfigError");
  };

  it.each([
    [{ ipAddresses: { block: ["203.0.113.0/33"] } }, "filters.ipAddresses.block[0]", "prefix length"],
    [{ ipAddresses: { allow: ["300.1.2.3/8"] } }, "filters.ipAddresses.allow[0]", "not an IPv4 address"],
    [{ ipAddresses: { block: ["203.0.113.5/24"] } }, "filters.ipAddresses.block[0]", "did you mean 203.0.113.0/24"],
    [{ locations: { allow: [{ minLat: -91, maxLat: 0, minLng: 0, maxLng: 1 }] } }, "minLat", "[-90, 90]"],
    [{ locations: { allow: [{ minLat: 10, maxLat: 0, minLng: 0, maxLng: 1 }] } }, "allow[0]", "minLat is above maxLat"],
    [{ amounts: { EUR: { min: 500, max: 100 } } }, "filters.amounts.EUR", "min is above max"],
    [{ amounts: { XXY: { min: 1 } } }, "filters.amounts.XXY", "not an ISO 4217"],
    [{ blockedDevices: { imeis: ["12345"] } }, "filters.blockedDevices.imeis[0]", "14-16 digits"],
    [{ velocity: { perIp: { max: 0, windowSeconds: 60 } } }, "filters.velocity.perIp.max", "at least 1"],
    [{ velocity: { perIp: { max: 1, window: 60 } } }, "filters.velocity.perIp", "window"],
  ])("%j", (filters, where, what) => {
    const lines = problems(filters);
    expect(
      lines.some((l) => l.includes(where) && l.includes(what)),
      lines.join("\n"),
    ).toBe(true);
  });

  it("the example configuration of the README is valid", () => {
    const config = buildConfig(
      {
        ...base,
        filters: {
          amounts: { EUR: { min: 100, max: 500000 } },
          blockedDevices: { serialNumbers: ["SN-BAD"], imeis: ["356938035643809"] },
          ipAddresses: { block: ["203.0.113.0/24"], allow: [] },
          locations: { required: false, allow: [{ minLat: 35, maxLat: 72, minLng: -25, maxLng: 45 }] },
          velocity: {
            perDevice: { max: 20, windowSeconds: 60 },
            perToken: { max: 20, windowSeconds: 60 },
            perIp: { max: 100, windowSeconds: 60 },
          },
        },
      },
      { env: {}, baseDir: "/tmp" },
    );
    expect(config.filters.amounts.EUR).toEqual({ min: 100, max: 500000 });
  });

  it("the real entry point exits with code 2 and names the bad rule", async () => {
    const file = join(server.dir, "bad-filters.json");
    writeFileSync(file, JSON.stringify({ ...base, filters: { ipAddresses: { block: ["10.0.0.0/40"] } } }));
    const run = promisify(execFile)(process.execPath, ["dist/src/main.js", "--config", file]);
    const failure = await run.then(
      () => undefined,
      (e: { code?: number; stderr?: string }) => e,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toContain("filters.ipAddresses.block[0]");
    expect(failure?.stderr).toContain("10.0.0.0/40");
  });
});

describe("velocity across two instances on PostgreSQL", () => {
  pgIt("two servers sharing one database enforce one per-device limit", async () => {
    const db = await createTestDatabase("cp_filters");
    // Built directly: the test server helper always puts in a SQLite file.
    const start = async () => {
      const config = buildConfig(
        {
          server: { host: "127.0.0.1", port: 0 },
          store: { postgres: db.url },
          endpoints: [{ id: "1111", controlKey: TEST_CONTROL_KEY, operations: ["sale", "verification"] }],
          filters: { velocity: { perDevice: { max: 3, windowSeconds: 60 } } },
          auth: { openIssuance: true },
        },
        { env: {}, baseDir: server.dir, sourceName: "test" },
      );
      const app = createServer(config, pino({ level: "silent" }));
      const { url } = await app.listen();
      return { url, close: () => app.close(2_000) };
    };
    const a = await start();
    const b = await start();
    try {
      const serialNumber = "SN-PG-SHARED";
      const codes: (string | undefined)[] = [];
      for (const s of [a, b, a, b, b, a]) {
        const accessToken = await tokenFor(serialNumber, s.url);
        const res = await fetch(`${s.url}/verification/initiate-verification`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            consumer: { device: { serialNumber } },
            session: { accessToken },
            transaction: { currency: "EUR" },
          }),
        });
        codes.push(((await res.json()) as { error?: { code: string } }).error?.code);
      }
      expect(codes).toEqual([undefined, undefined, undefined, "VELOCITY_DEVICE", "VELOCITY_DEVICE", "VELOCITY_DEVICE"]);

      // A burst split over both instances: never more than the limit through
      // (racing attempts may both be refused at the boundary, never both pass).
      const burst = "SN-PG-BURST";
      const attempts = await Promise.all(
        [a, b, a, b, a, b, a, b].map(async (s) => {
          const accessToken = await tokenFor(burst, s.url);
          const res = await fetch(`${s.url}/verification/initiate-verification`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({
              consumer: { device: { serialNumber: burst } },
              session: { accessToken },
              transaction: { currency: "EUR" },
            }),
          });
          return ((await res.json()) as { error?: { code: string } }).error?.code;
        }),
      );
      const through = attempts.filter((c) => c === undefined).length;
      expect(through).toBeLessThanOrEqual(3);
      expect(attempts.filter((c) => c !== undefined).every((c) => c === "VELOCITY_DEVICE")).toBe(true);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
});
