/**
 * The simulator's output: one line per step, numbered, "ok" or "FAIL". A
 * failed step also prints what was expected and what came back. Secrets never
 * reach the output whole: every value registered with `secret()` (tokens,
 * card references, the control key, a callback's control) and every JSON value
 * under a secret-looking key is shown shortened.
 */

/** Where the lines go (process.stdout, or a test's collector). */
export interface Output {
  write(text: string): unknown;
}

/** A step's check that did not hold: what the contract wants, and what came back. */
export class StepFailure extends Error {
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super(`expected ${expected}, got ${got}`);
  }
}

/** Thrown by `Reporter.step` after the failure is printed, to stop the run. */
export class RunStopped extends Error {
  constructor(readonly stepName: string) {
    super(`step ${stepName} failed`);
  }
}

const SECRET_KEYS = new Set(["accessToken", "token", "serverCardId", "clientCardId", "control"]);
const MAX_SHOWN = 400;

/** A value shown by its first 6 characters and its length: enough to tell two apart, never enough to use. */
export function short(value: string): string {
  return value.length <= 8 ? `${value.slice(0, 2)}…(${value.length})` : `${value.slice(0, 6)}…(${value.length})`;
}

/** A copy of a parsed JSON body with every value under a secret-looking key shortened. */
export function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, SECRET_KEYS.has(k) && typeof v === "string" ? short(v) : redact(v)]),
  );
}

/** Prints numbered step lines and the final verdict. */
export class Reporter {
  private readonly secrets = new Set<string>();
  private count = 0;
  private skipped = 0;
  private failed: string | undefined;

  constructor(private readonly out: Output) {}

  /** Registers a value that must never be printed whole. */
  secret(value: string): string {
    if (value.length > 0) this.secrets.add(value);
    return value;
  }

  /**
   * Runs one step. Its work resolves with a value and a one-line detail
   * ("ok" line); a throw prints the "FAIL" lines and rethrows as RunStopped.
   */
  async step<T>(name: string, work: () => Promise<{ value: T; detail: string }>): Promise<T> {
    const n = ++this.count;
    try {
      const { value, detail } = await work();
      this.line(`ok   ${String(n).padStart(2)} ${name.padEnd(25)} ${detail}`);
      return value;
    } catch (e) {
      this.failed = name;
      this.line(`FAIL ${String(n).padStart(2)} ${name}`);
      if (e instanceof StepFailure) {
        this.line(`        expected: ${e.expected}`);
        this.line(`        got:      ${e.got}`);
      } else {
        this.line(`        error:    ${describeError(e)}`);
      }
      throw new RunStopped(name);
    }
  }

  /** A step that does not apply to this server, said so on its own line. */
  skip(name: string, reason: string): void {
    this.skipped++;
    this.line(`skip ${String(++this.count).padStart(2)} ${name.padEnd(25)} ${reason}`);
  }

  /** An unnumbered line (the heading). */
  note(text: string): void {
    this.line(text);
  }

  /** The last line; returns the exit code: 0 when every step passed. */
  verdict(): number {
    if (this.failed !== undefined) {
      this.line(`FAILED at step ${this.count} (${this.failed})`);
      return 1;
    }
    const skipped = this.skipped > 0 ? ` (${this.skipped} skipped)` : "";
    this.line(`PASSED: all ${this.count} steps${skipped}`);
    return 0;
  }

  private line(text: string): void {
    let shown = text;
    // Longest first, so a token containing another secret is replaced whole.
    for (const s of [...this.secrets].sort((a, b) => b.length - a.length)) shown = shown.replaceAll(s, short(s));
    this.out.write(`${shown}\n`);
  }
}

/** A thrown value as one line: the message and, for a network failure, its cause's code. */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = e.cause as { code?: unknown; message?: unknown } | undefined;
  const detail = cause?.code ?? cause?.message;
  return detail === undefined ? e.message : `${e.message} (${String(detail)})`;
}

/** An answer as "STATUS BODY", the body redacted and cut to a readable length. */
export function describeAnswer(status: number, body: unknown, text: string): string {
  const shown = body === undefined ? JSON.stringify(text) : JSON.stringify(redact(body));
  return `${status} ${shown.length > MAX_SHOWN ? `${shown.slice(0, MAX_SHOWN)}…` : shown}`;
}
