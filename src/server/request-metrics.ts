/**
 * Each request's outcome in the metrics: its operation label (the JSON path's
 * operation, the RPC method, the ops endpoint) and its duration.
 */
import { ERROR_CATALOGUE, type ErrorCode } from "../core/error-catalogue.js";
import { OPEN_ISSUANCE_PATH } from "../http/open-issuance-route.js";
import { OPS_PATHS } from "../http/ops-routes.js";
import type { RequestLine } from "../http/request-listener.js";
import type { Metrics } from "../ops/metrics.js";

/** The operation label of a request in metrics; `rpcPaths` maps RPC paths to theirs. */
function operationLabel(path: string, operation: string | undefined, rpcPaths: ReadonlyMap<string, string>): string {
  return (
    operation ??
    rpcPaths.get(path) ??
    (OPS_PATHS.has(path) ? path.slice(1) : path === OPEN_ISSUANCE_PATH ? "open-issuance" : "other")
  );
}

/** Observes a request that ended (its log line). */
export function observeRequest(metrics: Metrics, rpcPaths: ReadonlyMap<string, string>, line: RequestLine): void {
  metrics.observeRequest({
    operation: operationLabel(line.path, line.operation, rpcPaths),
    protocol: line.protocol,
    outcome: line.outcome,
    cause: line.cause,
    code: line.code,
    seconds: line.durationMs / 1000,
  });
}

/** Observes a request node:http refused before any route saw it (client-errors.ts). */
export function observeParserRefusal(metrics: Metrics, code: ErrorCode): void {
  metrics.observeRequest({
    operation: "other",
    protocol: "http",
    outcome: "error",
    cause: ERROR_CATALOGUE[code].cause,
    code,
    seconds: 0,
  });
}
