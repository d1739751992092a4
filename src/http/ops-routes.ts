/**
 * The operator's plain-HTTP endpoints on the service port:
 * `GET /healthz` (the process is alive and serving HTTP),
 * `GET /readyz` (ready for traffic: store answers, not draining; 503 if not),
 * `GET /metrics` (Prometheus text).
 */
import { AppError } from "../core/error-catalogue.js";
import type { ServingState } from "../ops/health.js";
import type { Metrics } from "../ops/metrics.js";
import { sendError, sendJson } from "./answer.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { requestIdOf } from "./request-state.js";
import type { Route } from "./route.js";

/** The paths served here, exempt from admission (probes must answer under load). */
export const OPS_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

async function serve(
  req: NodeServerRequest,
  res: NodeServerResponse,
  path: string,
  state: ServingState,
  metrics: Metrics,
): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    sendError(req, res, new AppError("METHOD_NOT_ALLOWED", `Use GET for this path (got ${req.method}).`), {
      allow: "GET, HEAD",
    });
    return;
  }
  if (path === "/healthz") {
    sendJson(res, 200, { status: "alive" });
    return;
  }
  if (path === "/readyz") {
    const readiness = await state.readiness();
    if (readiness.ready) sendJson(res, 200, { status: "ready" });
    else sendError(req, res, readiness.reason, { "retry-after": "1" });
    return;
  }
  const { contentType, body } = await metrics.scrape();
  if (res.headersSent) return;
  res.writeHead(200, {
    "content-type": contentType,
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-request-id": requestIdOf(res),
  });
  res.end(body);
}

/** The route serving OPS_PATHS. */
export function opsRoutes(state: ServingState, metrics: Metrics): Route {
  return (req, res, path) => {
    if (!OPS_PATHS.has(path)) return false;
    serve(req, res, path, state, metrics).catch(() =>
      sendError(req, res, new AppError("INTERNAL_ERROR", "The server failed to process the request.")),
    );
    return true;
  };
}
