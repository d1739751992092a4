/**
 * `gateway.allowFrom`: when set, only these peers may call the gateway-facing
 * paths (gateway.md). The peer is the socket's address; behind a proxy listed
 * in `gateway.trustedProxies`, it is the rightmost X-Forwarded-For address
 * that is not itself a trusted proxy, so a caller cannot name itself by
 * sending the header.
 */
import { BlockList, isIP } from "node:net";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import { matchCheckPath } from "./check-json-route.js";
import type { NodeServerRequest } from "./node-types.js";
import type { Route } from "./route.js";
import { answerRpcError } from "./rpc-answers.js";

// An RPC path: "/<package>.<Service>/<Method>".
const RPC_PATH = /^\/[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

/** Decides whether a request's peer may call the gateway-facing paths. */
export type PeerCheck = (req: NodeServerRequest) => boolean;

function rangesOf(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const range of ranges) {
    const [address = "", prefix] = range.split("/");
    const family = isIP(address) === 6 ? "ipv6" : "ipv4";
    if (prefix === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d; ranges name it as a.b.c.d. */
function plain(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

function within(list: BlockList, address: string): boolean {
  const a = plain(address.trim());
  const family = isIP(a);
  return family !== 0 && list.check(a, family === 6 ? "ipv6" : "ipv4");
}

/** The peer check for `gateway.allowFrom` (undefined: every peer is allowed). */
export function createPeerCheck(
  allowFrom: readonly string[] | undefined,
  trustedProxies: readonly string[],
): PeerCheck {
  if (allowFrom === undefined) return () => true;
  const allowed = rangesOf(allowFrom);
  const proxies = rangesOf(trustedProxies);
  return (req) => {
    let peer = req.socket?.remoteAddress ?? "";
    if (trustedProxies.length > 0 && within(proxies, peer)) {
      const forwarded = req.headers["x-forwarded-for"];
      const hops = (Array.isArray(forwarded) ? forwarded.join(",") : (forwarded ?? "")).split(",").reverse();
      peer = hops.find((hop) => !within(proxies, hop)) ?? peer;
    }
    return within(allowed, peer);
  };
}

/**
 * The route that refuses a gateway-facing request from a peer outside
 * `gateway.allowFrom` (PEER_NOT_ALLOWED, 403), in the caller's protocol:
 * the JSON error body on the JSON paths, an RPC error on GatewayService.
 */
export function gatewayPeerRoute(allowed: PeerCheck, isGatewayPath: (path: string) => boolean): Route {
  return (req, res, path) => {
    if (!isGatewayPath(path) || allowed(req)) return false;
    // The body is not wanted.
    req.resume();
    const error = new AppError("PEER_NOT_ALLOWED", "This address may not call the gateway's operations.", {
      logDetail: `peer ${req.socket?.remoteAddress ?? "unknown"} is outside gateway.allowFrom`,
    });
    if (RPC_PATH.test(path)) answerRpcError(req, res, error, { httpStatus: error.spec.httpStatus });
    else {
      // A check's fail body carries the path's invoiceId, this refusal's too (gateway.md).
      const check = matchCheckPath(path);
      sendError(req, res, error, undefined, check && { invoiceId: check.invoiceId });
    }
    return true;
  };
}
