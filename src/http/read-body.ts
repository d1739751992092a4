/**
 * Reading request bodies: bounded in size, decoded (content-encoding.ts) and
 * parsed as UTF-8 JSON, the same way on every path that reads one.
 */
import { AppError } from "../core/error-catalogue.js";
import { bodyDecoder } from "./content-encoding.js";
import type { NodeServerRequest } from "./node-types.js";

const JSON_TYPE = /^application\/json\s*(;|$)/i;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The caller went away before its request body was complete. Nobody is left
 * to answer, so routes drop the request; its log line says "aborted".
 */
export class ClientGoneError extends Error {
  constructor() {
    super("the client went away before sending the whole request");
    this.name = "ClientGoneError";
  }
}

/**
 * Reads the whole body up to `limit` bytes. Rejects with BODY_TOO_LARGE as
 * soon as the limit is passed (or announced by Content-Length), without
 * buffering the rest.
 */
export function readBody(req: NodeServerRequest, limit: number): Promise<Buffer> {
  const announced = Number(req.headers["content-length"]);
  if (announced > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.off("data", onData);
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
    req.once("aborted", () => reject(new ClientGoneError()));
    req.once("error", (e) => reject(req.aborted ? new ClientGoneError() : e));
  });
}

function tooLarge(limit: number): AppError {
  return new AppError("BODY_TOO_LARGE", `The request body must be at most ${limit} bytes.`);
}

/**
 * Parses a request body as UTF-8 JSON, answering BODY_EMPTY or BODY_NOT_JSON;
 * the RPC adapter uses it too, so Connect-JSON and gRPC-JSON bodies fail alike.
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new AppError("BODY_EMPTY", "The request body is empty; a JSON object is required.");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new AppError("BODY_NOT_JSON", "The request body is not valid UTF-8.");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    // Only where the syntax breaks: V8's message can quote the body itself
    // (`"xyz..." is not valid JSON`), and a body may hold an access token.
    const at = /at position (\d+)/.exec((e as Error).message)?.[1];
    const where = at === undefined ? "" : ` (at position ${at})`;
    throw new AppError("BODY_NOT_JSON", `The request body is not valid JSON${where}.`);
  }
}

/**
 * Reads a JSON POST the way every JSON path does: POST only, Content-Type
 * application/json, Content-Encoding gzip, br or none (content-encoding.ts),
 * at most `maxBodyBytes` as sent and once decoded, valid UTF-8 JSON. Throws AppError;
 * answer it with sendJsonPathError.
 */
export function readJsonPost(req: NodeServerRequest, maxBodyBytes: number): Promise<unknown> {
  if (req.method !== "POST") {
    return Promise.reject(new AppError("METHOD_NOT_ALLOWED", `Use POST for this path (got ${req.method}).`));
  }
  if (!JSON_TYPE.test(req.headers["content-type"] ?? "")) {
    return Promise.reject(
      new AppError("CONTENT_TYPE_UNSUPPORTED", "The request must have Content-Type: application/json."),
    );
  }
  let decode: ReturnType<typeof bodyDecoder>;
  try {
    decode = bodyDecoder(req.headers["content-encoding"], maxBodyBytes);
  } catch (e) {
    return Promise.reject(e);
  }
  const body = readBody(req, maxBodyBytes);
  return (decode ? body.then(decode) : body).then(parseJsonBody);
}
