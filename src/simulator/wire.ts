/**
 * The JSON paths as the app and TopTechPay call them, with Node's fetch, and
 * the small readers the steps use to pick fields out of an answer: each
 * missing or mistyped field is a StepFailure that shows the whole (redacted)
 * answer.
 */
import { describeAnswer, StepFailure } from "./report.js";

/** How long one call may take before its step fails. */
const CALL_TIMEOUT_MS = 10_000;

/** One HTTP answer: status, parsed JSON body (undefined when not JSON) and raw text. */
export interface Answer {
  readonly what: string;
  readonly status: number;
  readonly body: unknown;
  readonly text: string;
}

async function call(what: string, url: string, init: RequestInit): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { what, status: res.status, body, text };
}

/** POSTs a JSON body to `base` + `path`. */
export function postJson(base: string, path: string, body: unknown): Promise<Answer> {
  return call(`POST ${path}`, joinUrl(base, path), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** GETs `base` + `path` with query parameters (register secret values with the Reporter first). */
export function getWithQuery(base: string, path: string, params: Record<string, string>): Promise<Answer> {
  const query = new URLSearchParams(params).toString();
  return call(`GET ${path}?${query}`, `${joinUrl(base, path)}?${query}`, { method: "GET" });
}

/** `base` (which may carry a path prefix) joined with an absolute `path`. */
function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, "")}${path}`;
}

/** The answer as "METHOD PATH answered STATUS BODY", for a StepFailure's "got". */
export function shown(a: Answer): string {
  return `${a.what} answered ${describeAnswer(a.status, a.body, a.text)}`;
}

/** Fails unless the answer has `status` and a JSON object body. */
export function expectStatus(a: Answer, status: number, expected: string): Record<string, unknown> {
  if (a.status !== status || a.body === null || typeof a.body !== "object" || Array.isArray(a.body)) {
    throw new StepFailure(`${status} ${expected}`, shown(a));
  }
  return a.body as Record<string, unknown>;
}

/** The value at a dotted path of a parsed body, or undefined. */
export function at(body: unknown, path: string): unknown {
  let v: unknown = body;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/** The string at `path`; a StepFailure when it is missing or not a string. */
export function text(a: Answer, path: string): string {
  const v = at(a.body, path);
  if (typeof v !== "string" || v.length === 0) throw new StepFailure(`a string at ${path}`, shown(a));
  return v;
}

/** Fails unless the value at `path` equals `want` (`label` says what it is, for the output). */
export function expectEqual(a: Answer, path: string, want: unknown, label = JSON.stringify(want)): void {
  const v = at(a.body, path);
  if (v !== want) throw new StepFailure(`${path} = ${label}`, shown(a));
}

/**
 * Fails unless the signature at `path` equals the one computed here: shows
 * both values (signatures are not secrets; the key never appears).
 */
export function expectSignature(a: Answer, path: string, computed: string, over: string): void {
  const v = at(a.body, path);
  if (v !== computed) {
    throw new StepFailure(
      `${path} = ${computed} (HMAC-SHA1 over ${over}, computed here with the given control key)`,
      `${JSON.stringify(v)}; ${shown(a)}`,
    );
  }
}
