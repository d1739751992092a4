/**
 * Answers for requests node:http rejects before any handler sees them (headers
 * over limits.maxHeaderBytes, headers too slow, bytes that are not HTTP), so
 * they too get the documented error body and an x-request-id (a fresh UUID,
 * also in the log line) instead of Node's bare status line.
 */
import { randomUUID } from "node:crypto";
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
    // Nothing can be written to a reset or half-closed socket, and a request
    // already being answered must not get a second answer (node's own
    // handler makes the same check): the connection just ends.
    const answering = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (err.code === "ECONNRESET" || !socket.writable || answering?.headersSent) {
      socket.destroy();
      return;
    }
    const code = codeFor(err.code);
    // No request was parsed, so there is no caller's id to keep: always a new one.
    const requestId = randomUUID();
    const error = new AppError(code, MESSAGES[code] ?? "The request was rejected.");
    const body = JSON.stringify(error.toBody());
    const reason =
      code === "HEADERS_TOO_LARGE"
        ? "Request Header Fields Too Large"
        : code === "REQUEST_TIMEOUT"
          ? "Request Timeout"
          : "Bad Request";
    logger.info(
      { requestId, protocol: "http", status: error.spec.httpStatus, cause: error.spec.cause, code, reason: err.code },
      "request rejected by the HTTP parser",
    );
    onAnswered?.(code);
    socket.end(
      `HTTP/1.1 ${error.spec.httpStatus} ${reason}\r\n` +
        "content-type: application/json; charset=utf-8\r\n" +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        "cache-control: no-store\r\nconnection: close\r\n" +
        `x-request-id: ${requestId}\r\n\r\n` +
        body,
    );
  };
}
