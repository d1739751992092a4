/**
 * The header-list limit on HTTP/2. node:http2 advertises
 * SETTINGS_MAX_HEADER_LIST_SIZE (limits.maxHeaderBytes) but takes larger
 * header lists anyway; node:http's parser enforces the limit on HTTP/1.1.
 */
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import type { Route } from "./route.js";

/** The header list's size as RFC 9113 6.5.2 counts it: name, value and 32 octets per field. */
function headerListSize(headers: NodeJS.Dict<string | string[]>): number {
  let size = 0;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === "string") size += name.length + Buffer.byteLength(value) + 32;
    else for (const v of value) size += name.length + Buffer.byteLength(v) + 32;
  }
  return size;
}

/** A route answering HEADERS_TOO_LARGE (431) to an HTTP/2 request whose header list passes `maxBytes`. */
export function headerListLimit(maxBytes: number): Route {
  return (req, res) => {
    if (req.httpVersionMajor !== 2 || headerListSize(req.headers) <= maxBytes) return false;
    sendError(
      req,
      res,
      new AppError("HEADERS_TOO_LARGE", `The request headers must be at most ${maxBytes} bytes.`, {
        logDetail: "HTTP/2 header list over limits.maxHeaderBytes",
      }),
    );
    return true;
  };
}
