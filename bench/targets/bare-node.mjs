/**
 * Baseline 5, "bare Node": a plain node:http handler doing the sale's work
 * (baseline-work.mjs) on the documented JSON path, with the same request
 * checks as the server's lean path (POST, JSON content type, 64 KiB limit).
 * It is the limit: nothing is stored and nothing is logged.
 */
import * as http from "node:http";
import { AppError } from "../../dist/src/core/error-catalogue.js";
import { announce, errorAnswer, exitOnSignal, initiateSale } from "./baseline-work.mjs";

const LIMIT = 64 * 1024;
const JSON_TYPE = /^application\/json\s*(;|$)/i;

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
  });
  res.end(text);
}

function fail(res, e) {
  const { status, body } = errorAnswer(e);
  send(res, status, body);
}

const server = http.createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
  if (req.url !== "/sale/initiate-sale") return fail(res, new AppError("ROUTE_NOT_FOUND", "Not found."));
  if (req.method !== "POST") return fail(res, new AppError("METHOD_NOT_ALLOWED", "Use POST."));
  if (!JSON_TYPE.test(req.headers["content-type"] ?? "")) {
    return fail(res, new AppError("CONTENT_TYPE_UNSUPPORTED", "The request must have Content-Type: application/json."));
  }
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size <= LIMIT) chunks.push(chunk);
  });
  req.on("end", () => {
    try {
      if (size > LIMIT) throw new AppError("BODY_TOO_LARGE", "The request body is too large.");
      if (size === 0) throw new AppError("BODY_EMPTY", "The request body is empty.");
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
      } catch {
        throw new AppError("BODY_NOT_JSON", "The request body is not valid JSON.");
      }
      send(res, 200, initiateSale(body));
    } catch (e) {
      fail(res, e);
    }
  });
});

server.listen(0, "127.0.0.1", () => announce(`http://127.0.0.1:${server.address().port}`));
exitOnSignal(() => new Promise((resolve) => server.close(resolve)));
