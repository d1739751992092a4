/**
 * Two refusals node:http and node:http2 would otherwise answer themselves,
 * with a bare status line: no body, no x-request-id, no log line, no count.
 * An HTTP/1.1 request without a Host header (RFC 9112 section 3.2: 400) and a
 * request with an Expect header other than 100-continue (RFC 9110 section
 * 10.1.1: 417). Here they reach the request listener like any request and are
 * refused by the first route, so they get the documented error body with a
 * catalogue code, an x-request-id, a log line and a metric.
 */
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import type { NodeHandler } from "./node-types.js";
import type { Route } from "./route.js";

const CONTINUE = /^100-continue$/i;

/**
 * Hands the requests node would refuse itself to `listener` instead: turns
 * off node:http's own Host check and takes over 'checkExpectation' (emitted
 * for an Expect other than 100-continue). Pair with `requestGuardRoute`.
 */
export function routeParserRefusals(
  server: http.Server | http2.Http2Server | http2.Http2SecureServer,
  listener: NodeHandler,
): void {
  // node:http reads this per request; the HTTP/1.1 side of an HTTP/2 server
  // with allowHTTP1 never checks Host, so the route below covers both.
  if ("requireHostHeader" in server) server.requireHostHeader = false;
  server.on("checkExpectation", listener);
}

/** The first route: refuses a missing Host (HTTP/1.1) and an unmet Expect. */
export const requestGuardRoute: Route = (req, res) => {
  const http11 = req.httpVersion === "1.1";
  let error: AppError | undefined;
  if (http11 && req.headers.host === undefined) {
    error = new AppError("HOST_MISSING", "An HTTP/1.1 request must have a Host header.");
  } else {
    const expect = req.headers.expect;
    // HTTP/1.0 has no Expect (RFC 9110 section 10.1.1: ignore it there).
    if (expect !== undefined && req.httpVersion !== "1.0" && !CONTINUE.test(expect)) {
      error = new AppError("EXPECTATION_FAILED", "The only expectation this server meets is Expect: 100-continue.");
    }
  }
  if (error === undefined) return false;
  // The body, if any, is not read; on HTTP/1.1 it would be taken for the next request.
  sendError(req, res, error, req.httpVersionMajor === 1 ? { connection: "close" } : undefined);
  return true;
};
