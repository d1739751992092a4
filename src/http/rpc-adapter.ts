/**
 * Connect, gRPC and gRPC-Web on node:http and node:http2: connect-es's own
 * router and protocol handlers, with one addition, the body check in front of
 * each unary method (rpc-body-guard.ts says why).
 */
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  createConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import {
  pipe,
  transformPrepend,
  type UniversalHandler,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { toAppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import { toConnectError } from "./connect-errors.js";
import type { NodeHandler, NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { requestStateOf } from "./request-state.js";
import { answerRpcError, answerTrailersOnly, rpcProtocolOf } from "./rpc-answers.js";
import { failing, guardBody, RPC_OPERATIONS } from "./rpc-body-guard.js";
import { refusalBeforeConnect } from "./rpc-refusals.js";

/** Options of the RPC handler; a subset of connectNodeAdapter's. */
export interface RpcHandlerOptions {
  /** Registers the services, as for connectNodeAdapter. */
  readonly routes: (router: ConnectRouter) => void;
  /** Interceptors of every service registered (connect's router-wide option). */
  readonly interceptors?: Interceptor[];
  /** The largest request body (after decompression) accepted. */
  readonly readMaxBytes: number;
  /** Per-request context values (the request state). */
  readonly contextValues?: (req: NodeServerRequest) => ContextValues;
  /** Answers a path no RPC is served at. */
  readonly fallback: NodeHandler;
  /** Wraps each request's body as connect reads it (the deadline's hook). */
  readonly wrapBody?: (req: NodeServerRequest, body: AsyncIterable<Uint8Array>) => AsyncIterable<Uint8Array>;
}

/**
 * Writes connect's answer. A gRPC answer without a message (an error before
 * the first one) goes out as Trailers-Only, one HEADERS frame with
 * END_STREAM: connect-node writes its headers and trailers in two frames,
 * which is valid, but then carries the status only in the second one.
 */
async function writeAnswer(ures: UniversalServerResponse, res: NodeServerResponse): Promise<void> {
  const type = ures.header ? new Headers(ures.header).get("content-type") : null;
  if (ures.body === undefined || ures.trailer === undefined || rpcProtocolOf(type) !== "grpc") {
    return universalResponseToNodeResponse(ures, res);
  }
  const it = ures.body[Symbol.asyncIterator]();
  const first = await it.next();
  if (first.done) {
    const headers: Record<string, string> = {};
    for (const h of [ures.header, ures.trailer]) {
      new Headers(h).forEach((value, key) => {
        headers[key] = value;
      });
    }
    answerTrailersOnly(res, headers);
    return;
  }
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => it };
  const body = pipe(
    rest,
    transformPrepend(() => first.value),
  );
  return universalResponseToNodeResponse({ ...ures, body }, res);
}

/**
 * The Node request handler serving the routed services over Connect, gRPC and
 * gRPC-Web; InitiateService's methods get the body check described above.
 */
export function createRpcHandler(options: RpcHandlerOptions): NodeHandler {
  const compressions = [compressionGzip, compressionBrotli];
  const router = createConnectRouter({
    readMaxBytes: options.readMaxBytes,
    acceptCompression: compressions,
    interceptors: options.interceptors ?? [],
  });
  options.routes(router);
  const paths = new Map<string, UniversalHandler>();
  for (const h of router.handlers) paths.set(h.requestPath, guardBody(h, compressions, options.readMaxBytes));

  return (req: NodeServerRequest, res: NodeServerResponse) => {
    const handler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      options.fallback(req, res);
      return;
    }
    const operation = RPC_OPERATIONS.get(handler.method);
    const log = requestStateOf(req);
    if (log && operation !== undefined) log.operation = operation;
    const refusal = refusalBeforeConnect(handler, req, compressions);
    if (refusal?.kind === "answer") {
      req.resume();
      answerRpcError(req, res, refusal.error, { httpStatus: refusal.httpStatus, extra: refusal.extra });
      return;
    }
    let ureq = universalRequestFromNodeRequest(req, res, undefined, options.contextValues?.(req));
    if (refusal) {
      if (log) log.error = refusal.error;
      const header = new Headers(ureq.header);
      header.delete(refusal.dropHeader);
      ureq = failing({ ...ureq, header }, toConnectError(refusal.error));
    } else if (options.wrapBody) {
      ureq.body = options.wrapBody(req, ureq.body as AsyncIterable<Uint8Array>);
    }
    handler(ureq)
      .then((ures) => writeAnswer(ures, res))
      .catch((e: unknown) => {
        if (ConnectError.from(e).code === Code.Aborted) return;
        const error = toAppError(e);
        // Never leave the caller hanging: answer if nothing was sent, else end.
        if (!res.headersSent) sendError(req, res, error);
        else res.end();
      });
  };
}
