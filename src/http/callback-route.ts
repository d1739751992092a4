/**
 * TopTechPay's final-status callback, `GET /callback/{endpointId}?...` (as
 * the gateway sends it) or `POST /callback/{endpointId}` with a form body
 * (application/x-www-form-urlencoded, read like every body: bounded,
 * gzip/br decoded). A thin adapter over the core's callback service: the
 * parameters of the query string and then of the body go to the core as
 * sent; the answer is `{"received":true,"duplicate":...}` or the documented
 * error body. The log line names the callback by its status, type, orderid
 * and client_orderid, never by `control` (the request line logs the path
 * without its query string).
 */
import type { CallbackResult, CallbackService } from "../core/callback-service.js";
import { AppError } from "../core/error-catalogue.js";
import { sendError, sendJson, sendJsonPathError } from "./answer.js";
import { bodyDecoder } from "./content-encoding.js";
import type { NodeServerRequest } from "./node-types.js";
import { readBody } from "./read-body.js";
import type { RequestState } from "./request-state.js";
import type { Route } from "./route.js";

const CALLBACK_PATH = /^\/callback\/([^/]+)$/;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;
// A body's bytes that are not UTF-8 become U+FFFD: such a value then fails
// `control`, or is stored as the replacement it decoded to.
const utf8 = new TextDecoder("utf-8");

/** Whether `path` is a callback path (the gateway-facing guard's predicate). */
export function isCallbackPath(path: string): boolean {
  return CALLBACK_PATH.test(path);
}

function endpointOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    // Not percent-decodable: no endpoint of ours is named like that.
    return segment;
  }
}

/** The parameter pairs of the query string and, for a POST, of its form body, in that order. */
async function paramsOf(req: NodeServerRequest, maxBodyBytes: number): Promise<[string, string][]> {
  const url = req.url ?? "";
  const q = url.indexOf("?");
  const pairs = [...new URLSearchParams(q === -1 ? "" : url.slice(q + 1))];
  if (req.method === "GET") return pairs;
  if (req.method !== "POST") {
    throw new AppError("METHOD_NOT_ALLOWED", `Use GET or POST for this path (got ${req.method}).`);
  }
  if (!FORM_TYPE.test(req.headers["content-type"] ?? "")) {
    throw new AppError(
      "CONTENT_TYPE_UNSUPPORTED",
      "A callback POST must have Content-Type: application/x-www-form-urlencoded.",
    );
  }
  const decode = bodyDecoder(req.headers["content-encoding"], maxBodyBytes);
  const raw = await readBody(req, maxBodyBytes);
  const bytes = decode ? await decode(raw) : raw;
  return [...pairs, ...new URLSearchParams(utf8.decode(bytes))];
}

function noteResult(log: RequestState, r: CallbackResult): void {
  log.endpointId = r.endpointId;
  if (r.invoiceId !== undefined) log.invoiceId = r.invoiceId;
  const { status, type, orderId: orderid, clientOrderId: client_orderid, duplicate } = r;
  log.callback = { status, type, orderid, client_orderid, duplicate };
  if (r.invoiceId === undefined && !duplicate) log.warning = "callback matched no session";
  else if (r.invoiceId !== undefined && !duplicate && !r.finalized) {
    log.warning = "callback for a session already final: stored, the session keeps its first final status";
  }
}

/** The route for `/callback/{endpointId}`. */
export function callbackRoute(callbacks: CallbackService, options: { readonly maxBodyBytes: number }): Route {
  return (req, res, path, log) => {
    const m = CALLBACK_PATH.exec(path);
    if (!m) return false;
    log.operation = "callback";
    const endpointId = endpointOf(m[1] as string);
    paramsOf(req, options.maxBodyBytes)
      .then((pairs) => callbacks.receive(endpointId, pairs))
      .then(
        (result) => {
          noteResult(log, result);
          sendJson(res, 200, { received: true, duplicate: result.duplicate });
        },
        (e: unknown) => {
          if (e instanceof AppError && e.code === "METHOD_NOT_ALLOWED") {
            req.resume();
            sendError(req, res, e, { allow: "GET, POST" });
          } else sendJsonPathError(req, res, e);
        },
      );
    return true;
  };
}
