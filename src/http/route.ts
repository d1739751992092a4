/**
 * What the request listener tries in order for each request (request-listener.ts):
 * guards, admission, ops endpoints, JSON paths, the fast RPC routes and last
 * the connect-node handler.
 */
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import type { RequestState } from "./request-state.js";

/**
 * A route: serves the request and returns true, or returns false to pass.
 * Whatever answers puts `x-request-id: requestIdOf(res)` in its headers.
 * `log` is the request's record (see request-state.ts), for routes that note
 * something about the request or hold a resource until it ends.
 */
export type Route = (req: NodeServerRequest, res: NodeServerResponse, path: string, log: RequestState) => boolean;

/** The path of a request target, without its query. */
export function pathOf(url: string | undefined): string {
  const raw = url ?? "/";
  const q = raw.indexOf("?");
  return q === -1 ? raw : raw.slice(0, q);
}
