/**
 * The README's error table, built from the catalogue. `npm run docs:errors`
 * writes it between the README's errors markers and `test/error-catalogue.test.ts`
 * reads it back, so both use the same rendering and parsing and cannot drift.
 */
import { ERROR_CATALOGUE, type ErrorSpec } from "./error-catalogue.js";

/**
 * gRPC's numbers for the Connect code names (the Connect protocol reuses
 * them). Every Connect code is listed, so a new catalogue entry with any code
 * renders without a change here; the test checks them against the library.
 */
export const GRPC_CODE_NUMBERS: Readonly<Record<string, number>> = {
  canceled: 1,
  unknown: 2,
  invalid_argument: 3,
  deadline_exceeded: 4,
  not_found: 5,
  already_exists: 6,
  permission_denied: 7,
  resource_exhausted: 8,
  failed_precondition: 9,
  aborted: 10,
  out_of_range: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  data_loss: 15,
  unauthenticated: 16,
};

// The start marker may carry a note after the name; the end marker is exact.
const START_MARKER = /<!--\s*section:errors\b[^>]*-->/;
const END_MARKER = "<!-- /section:errors -->";
const HEADER = "| Code | Cause | HTTP | Connect / gRPC code | When |";
const RULE = "|---|---|---|---|---|";

/** One row of the table, as rendered or as read back from the README. */
export interface ErrorTableRow {
  readonly code: string;
  readonly cause: string;
  readonly httpStatus: number;
  readonly connectCode: string;
  readonly when: string;
}

/** The catalogue as table rows, in catalogue order. */
export function catalogueRows(catalogue: Readonly<Record<string, ErrorSpec>> = ERROR_CATALOGUE): ErrorTableRow[] {
  return Object.entries(catalogue).map(([code, spec]) => ({
    code,
    cause: spec.cause,
    httpStatus: spec.httpStatus,
    connectCode: spec.connectCode,
    when: spec.when,
  }));
}

function escapeCell(text: string): string {
  // A pipe would end the cell and a newline the row.
  return text
    .replaceAll("\\", "\\\\")
    .replaceAll("|", "\\|")
    .replace(/\s*\n\s*/g, " ");
}

function unescapeCell(text: string): string {
  return text.replace(/\\([\\|])/g, "$1");
}

function connectCell(connectCode: string): string {
  const n = GRPC_CODE_NUMBERS[connectCode];
  const grpc = `\`${connectCode.toUpperCase()}\``;
  return `\`${connectCode}\` / ${n === undefined ? grpc : `${grpc} (${n})`}`;
}

/** Renders the Markdown table (header, rule, one line per code), no trailing newline. */
export function renderErrorTable(rows: readonly ErrorTableRow[] = catalogueRows()): string {
  const lines = rows.map(
    (r) =>
      `| \`${r.code}\` | \`${r.cause}\` | ${r.httpStatus} | ${connectCell(r.connectCode)} | ${escapeCell(r.when)} |`,
  );
  return [HEADER, RULE, ...lines].join("\n");
}

function sectionBounds(readme: string): { contentStart: number; contentEnd: number } {
  const start = START_MARKER.exec(readme);
  if (!start) throw new Error("README has no <!-- section:errors --> start marker");
  const contentStart = start.index + start[0].length;
  const contentEnd = readme.indexOf(END_MARKER, contentStart);
  if (contentEnd < 0) throw new Error(`README has no ${END_MARKER} end marker after the start marker`);
  if (START_MARKER.test(readme.slice(contentEnd))) throw new Error("README has more than one errors section");
  return { contentStart, contentEnd };
}

/** The text between the errors markers, without the surrounding newlines. */
export function readErrorsSection(readme: string): string {
  const { contentStart, contentEnd } = sectionBounds(readme);
  return readme.slice(contentStart, contentEnd).trim();
}

/**
 * Returns the README with the text between the errors markers replaced by
 * `table`; everything outside the markers is kept byte for byte. Running it
 * twice gives the same text.
 */
export function replaceErrorsSection(readme: string, table: string): string {
  const { contentStart, contentEnd } = sectionBounds(readme);
  return `${readme.slice(0, contentStart)}\n${table}\n${readme.slice(contentEnd)}`;
}

function splitCells(line: string): string[] {
  const cells: string[] = [];
  let current = "";
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "\\" && i + 1 < line.length) {
      current += ch + line[i + 1];
      i++;
    } else if (ch === "|") {
      cells.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  cells.push(current);
  // A row starts and ends with a pipe, which leaves an empty cell at each end.
  return cells.slice(1, -1).map((c) => unescapeCell(c.trim()));
}

const unquote = (cell: string): string => cell.replace(/^`(.*)`$/, "$1");

/**
 * Reads the table rows back from a section's text (header and rule skipped).
 * Throws naming the line when a row does not have the five columns.
 */
export function parseErrorTable(section: string): ErrorTableRow[] {
  const lines = section
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("|"));
  return lines.slice(2).map((line) => {
    const cells = splitCells(line);
    const [code, cause, status, connect, when] = cells;
    if (cells.length !== 5 || code === undefined || cause === undefined || status === undefined) {
      throw new Error(`README error table row does not have 5 columns: ${line}`);
    }
    return {
      code: unquote(code),
      cause: unquote(cause),
      httpStatus: Number(status),
      connectCode: /^`([a-z_]+)`/.exec(connect ?? "")?.[1] ?? "",
      when: when ?? "",
    };
  });
}
