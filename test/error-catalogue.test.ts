/**
 * The error catalogue is the contract callers branch on: this checks it is
 * well formed and that the README's table says exactly what the code does.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import { AppError, type Cause, ERROR_CATALOGUE, type ErrorCode, toAppError } from "../src/core/error-catalogue.js";
import {
  catalogueRows,
  GRPC_CODE_NUMBERS,
  parseErrorTable,
  readErrorsSection,
  renderErrorTable,
  replaceErrorsSection,
} from "../src/core/error-table.js";

const ROOT = resolve(import.meta.dirname, "..");
const README = resolve(ROOT, "README.md");
const CAUSES: readonly Cause[] = ["FILTERED", "INVALID_REQUEST", "SERVER_FAILED", "SERVER_UNAVAILABLE"];
const entries = Object.entries(ERROR_CATALOGUE) as [ErrorCode, (typeof ERROR_CATALOGUE)[ErrorCode]][];

/** "invalid_argument" -> Code.InvalidArgument, from the Connect library itself. */
function libraryCode(name: string): number | undefined {
  const pascal = name.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  const value = (Code as unknown as Record<string, unknown>)[pascal];
  return typeof value === "number" ? value : undefined;
}

describe("error catalogue", () => {
  it("has unique UPPER_SNAKE codes", () => {
    const codes = entries.map(([code]) => code);
    expect(codes.length).toBeGreaterThan(0);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
  });

  it("uses only the four documented causes and a real Connect code", () => {
    for (const [code, spec] of entries) {
      expect(CAUSES, code).toContain(spec.cause);
      expect(libraryCode(spec.connectCode), `${code}: ${spec.connectCode}`).toBeDefined();
      expect(spec.when.trim().length, `${code} needs a "when" text`).toBeGreaterThan(10);
    }
  });

  it("gives each cause a fitting HTTP status and Connect code", () => {
    const serverSide = ["internal", "unavailable", "deadline_exceeded", "unknown", "data_loss"];
    for (const [code, spec] of entries) {
      const { cause, httpStatus: status, connectCode } = spec;
      if (cause === "INVALID_REQUEST" || cause === "FILTERED") {
        expect(status, code).toBeGreaterThanOrEqual(400);
        expect(status, code).toBeLessThan(500);
        expect(serverSide, code).not.toContain(connectCode);
      }
      if (cause === "FILTERED") expect([402, 403, 409, 422, 429], code).toContain(status);
      if (cause === "SERVER_FAILED") {
        expect(status, code).toBe(500);
        expect(["internal", "unknown", "data_loss"], code).toContain(connectCode);
      }
      if (cause === "SERVER_UNAVAILABLE") {
        expect([503, 504], code).toContain(status);
        expect(["unavailable", "deadline_exceeded", "resource_exhausted"], code).toContain(connectCode);
      }
    }
  });

  it("builds the documented error body from a code", () => {
    const e = new AppError("FIELD_REQUIRED", "consumer is required.");
    expect(e.toBody()).toEqual({
      error: { cause: "INVALID_REQUEST", code: "FIELD_REQUIRED", message: "consumer is required." },
    });
    const hidden = toAppError(new Error("SQLITE_CORRUPT at /secret/path"));
    expect(hidden.code).toBe("INTERNAL_ERROR");
    expect(JSON.stringify(hidden.toBody())).not.toContain("secret");
    expect(hidden.logDetail).toContain("SQLITE_CORRUPT");
  });
});

describe("README error table", () => {
  const readme = readFileSync(README, "utf8");

  it("lists every catalogue code with its cause, status and Connect code, in order", () => {
    const readmeRows = parseErrorTable(readErrorsSection(readme));
    const expected = catalogueRows();
    const pick = (r: { code: string; cause: string; httpStatus: number; connectCode: string }) => ({
      code: r.code,
      cause: r.cause,
      httpStatus: r.httpStatus,
      connectCode: r.connectCode,
    });
    // Rows first, for a readable diff; then the whole text, for the "when" column.
    expect(readmeRows.map(pick), "README is stale: run `npm run docs:errors`").toEqual(expected.map(pick));
    expect(readErrorsSection(readme), "README is stale: run `npm run docs:errors`").toBe(renderErrorTable());
  });

  it("shows the gRPC number the Connect library uses for each code", () => {
    for (const [name, n] of Object.entries(GRPC_CODE_NUMBERS)) expect(libraryCode(name), name).toBe(n);
  });

  it("round-trips cells with pipes and backslashes", () => {
    const rows = [
      { code: "X_ONE", cause: "FILTERED", httpStatus: 403, connectCode: "permission_denied", when: "a | b \\ c" },
    ];
    expect(parseErrorTable(renderErrorTable(rows))).toEqual(rows);
  });

  it("replaces only the text between the markers, idempotently", () => {
    const doc = "# T\n\n<!-- section:errors (note) -->\nold\n<!-- /section:errors -->\n\n## After\n";
    const once = replaceErrorsSection(doc, "| new |");
    expect(once).toBe("# T\n\n<!-- section:errors (note) -->\n| new |\n<!-- /section:errors -->\n\n## After\n");
    expect(replaceErrorsSection(once, "| new |")).toBe(once);
    expect(() => replaceErrorsSection("no markers", "x")).toThrow(/start marker/);
    expect(() => replaceErrorsSection("<!-- section:errors -->\n", "x")).toThrow(/end marker/);
  });
});

describe("npm run docs:errors (scripts/docs-errors.mjs)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cp-docs-errors-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes the table into a stale README, then finds nothing to change", () => {
    const readme = join(dir, "README.md");
    const stale = "# X\n<!-- section:errors (generated) -->\n| old |\n<!-- /section:errors -->\ntail\n";
    writeFileSync(readme, stale);
    const run = (...args: string[]) =>
      execFileSync(process.execPath, [resolve(ROOT, "scripts/docs-errors.mjs"), "--readme", readme, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });

    expect(() => run("--check")).toThrow(/stale/);
    expect(readFileSync(readme, "utf8")).toBe(stale);
    expect(run()).toMatch(/wrote \d+ codes/);
    const written = readFileSync(readme, "utf8");
    expect(written).toBe(replaceErrorsSection(stale, renderErrorTable()));
    expect(run()).toMatch(/up to date/);
    expect(run("--check")).toMatch(/up to date/);
    expect(readFileSync(readme, "utf8")).toBe(written);
  });

  it("refuses a README without the markers and leaves it untouched", () => {
    const readme = join(dir, "NO-MARKERS.md");
    writeFileSync(readme, "# nothing here\n");
    expect(() =>
      execFileSync(process.execPath, ["scripts/docs-errors.mjs", "--readme", readme], { cwd: ROOT, stdio: "pipe" }),
    ).toThrow(/start marker/);
    expect(readFileSync(readme, "utf8")).toBe("# nothing here\n");
  });
});
