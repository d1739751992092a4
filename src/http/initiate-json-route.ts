/**
 * The documented JSON paths the mobile app calls. A lean path on purpose: it
 * reads the body, parses JSON once and calls the core directly, because this
 * is the main load and a framework's per-request plumbing costs more than the
 * work itself.
 */
import type { Operation } from "../core/initiate-request.js";
import type { Initiator } from "../core/initiator.js";
import { sendJson, sendJsonPathError } from "./answer.js";
import { readJsonPost } from "./read-body.js";
import { noteSuccess } from "./request-state.js";
import type { Route } from "./route.js";

/** The documented paths and the operation each starts. */
const JSON_PATHS: ReadonlyMap<string, Operation> = new Map([
  ["/sale/initiate-sale", "sale"],
  ["/verification/initiate-verification", "verification"],
]);

/** The route serving JSON_PATHS; any other path passes to the next route. */
export function initiateJsonRoute(core: Initiator, options: { readonly maxBodyBytes: number }): Route {
  return (req, res, path, log) => {
    const operation = JSON_PATHS.get(path);
    if (operation === undefined) return false;
    log.operation = operation;
    // A plain chain, no async function: one microtask turn per step.
    readJsonPost(req, options.maxBodyBytes)
      .then((body) => core.initiate(operation, body))
      .then(
        (result) => {
          noteSuccess(log, result);
          sendJson(res, 200, result);
        },
        (e: unknown) => sendJsonPathError(req, res, e),
      );
    return true;
  };
}
