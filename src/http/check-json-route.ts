/**
 * TopTechPay's check paths, `POST /sale/{invoiceId}/check` and
 * `POST /verification/{invoiceId}/check`: a thin adapter over the core's
 * check, read and answered like every JSON path, with the path's invoice id in
 * the body handed to the core and in every failure body (gateway.md).
 */
import type { CheckService } from "../core/check-service.js";
import type { Operation } from "../core/initiate-request.js";
import { sendJson, sendJsonPathError } from "./answer.js";
import { readJsonPost } from "./read-body.js";
import type { Route } from "./route.js";

const CHECK_PATH = /^\/(sale|verification)\/([^/]+)\/check$/;

/** The operation label and invoice id of a check path, or undefined for any other path. */
export function matchCheckPath(path: string): { operation: Operation; invoiceId: string } | undefined {
  const m = CHECK_PATH.exec(path);
  if (!m) return undefined;
  let invoiceId: string;
  try {
    invoiceId = decodeURIComponent(m[2] as string);
  } catch {
    // Not percent-decodable: no invoice of ours looks like that.
    invoiceId = m[2] as string;
  }
  return { operation: m[1] as Operation, invoiceId };
}

/** The route for both check paths. */
export function checkJsonRoute(checks: CheckService, options: { readonly maxBodyBytes: number }): Route {
  return (req, res, path, log) => {
    const match = matchCheckPath(path);
    if (match === undefined) return false;
    const { operation, invoiceId } = match;
    log.operation = operation === "sale" ? "check-sale" : "check-verification";
    readJsonPost(req, options.maxBodyBytes)
      .then((body) => {
        // The path names the invoice; a body field of that name is not the gateway's to set.
        const withPath =
          typeof body === "object" && body !== null && !Array.isArray(body) ? { ...body, invoiceId } : body;
        return checks.check(operation, withPath);
      })
      .then(
        (result) => {
          log.endpointId = result.endpointId;
          log.invoiceId = result.invoiceId;
          const { endpointId: _, ...answer } = result;
          sendJson(res, 200, answer);
        },
        (e: unknown) => sendJsonPathError(req, res, e, { invoiceId }),
      );
    return true;
  };
}
