/**
 * Answers for requests node:http rejects before any handler sees them (headers
 * over limits.maxHeaderBytes, headers too slow, bytes that are not HTTP), so
 * they too get the documented error body instead of Node's bare status line.
 */
import type { Socket } from "node:net";
import type { Logger } from "pino";
import { AppError, type ErrorCode } from "../core/error-catalogue.js";

function codeFor(nodeCode: string | undefined): ErrorCode {
  if (nodeCode === "HPE_HEADER_OVERFLOW") return "HEADERS_TOO_LARGE";
  if (nodeCode === "ERR_HTTP_REQUEST_TIMEOUT" || nodeCode === "ERR_HTTP_HEADERS_TIMEOUT") return "REQUEST_TIMEOUT";
  return "HTTP_MALFORMED";
}

const MESSAGES: Partial<Record<ErrorCode, string>> = {
  HEADERS_TOO_LARGE: "The request headers are too large.",
  REQUEST_TIMEOUT: "The request did not arrive in time.",
  HTTP_MALFORMED: "The request is not valid HTTP/1.1.",
};

/**
 * A `clientError` listener for the HTTP/1.1 server: writes the error body and
 * closes the connection; `onAnswered` is told the code (for metrics).
 */
export function answerClientErrors(
  logger: Logger,
  onAnswered?: (code: ErrorCode) => void,
): (err: Error & { code?: string }, socket: Socket) => void {
  return (err, socket) => {
    // Nothing can be written to a reset or half-closed socket.
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const code = codeFor(err.code);
    const error = new AppError(code, MESSAGES[code] ?? "The request was rejected.");
    const body = JSON.stringify(error.toBody());
    const reason =
      code === "HEADERS_TOO_LARGE"
        ? "Request Header Fields Too Large"
        : code === "REQUEST_TIMEOUT"
          ? "Request Timeout"
          : "Bad Request";
    logger.info(
      { protocol: "http", status: error.spec.httpStatus, cause: error.spec.cause, code, reason: err.code },
      "request rejected by the HTTP parser",
    );
    onAnswered?.(code);
    socket.end(
      `HTTP/1.1 ${error.spec.httpStatus} ${reason}\r\n` +
        "content-type: application/json; charset=utf-8\r\n" +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        "cache-control: no-store\r\nconnection: close\r\n\r\n" +
        body,
    );
  };
}
