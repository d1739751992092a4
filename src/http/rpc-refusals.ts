/**
 * The refusals connect-node would otherwise answer in its own words (a bare
 * HTTP 415 or 405, an `invalid_argument` or `unimplemented` without
 * ErrorDetail), decided here first with connect's own helpers so they carry
 * our catalogue code, reach the log line as errors and count under the
 * method's operation label:
 *
 * - HTTP method and content type: the router handler's own `allowedMethods`
 *   and `supportedContentType` matcher;
 * - the caller's timeout header: connect's `parseTimeout` of the protocol;
 * - the request compression: connect's `compressionNegotiate`.
 *
 * Also the answer for a path no RPC is served at: UNIMPLEMENTED in the
 * caller's protocol when the request is an RPC, the documented JSON 404 else.
 */
import type { Compression, UniversalHandler } from "@connectrpc/connect/protocol";
import { compressionNegotiate } from "@connectrpc/connect/protocol";
import { parseTimeout as parseConnectTimeout } from "@connectrpc/connect/protocol-connect";
import { parseTimeout as parseGrpcTimeout } from "@connectrpc/connect/protocol-grpc";
import { AppError } from "../core/error-catalogue.js";
import { sendError } from "./answer.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { answerRpcError, rpcProtocolOf } from "./rpc-answers.js";

/** A refusal answered by us at once (no protocol of the method fits the request). */
export interface DirectRefusal {
  readonly kind: "answer";
  readonly error: AppError;
  readonly httpStatus: number;
  readonly extra?: Record<string, string>;
}

/**
 * A refusal connect should write in the caller's protocol: the offending
 * header is left out and the body fails with the error (see rpc-adapter.ts).
 */
export interface ProtocolRefusal {
  readonly kind: "through-connect";
  readonly error: AppError;
  readonly dropHeader: string;
}

function header(req: NodeServerRequest, name: string): string | null {
  const value = req.headers[name];
  return typeof value === "string" ? value : null;
}

/**
 * The refusal a request to `handler` gets before connect runs, or undefined
 * when connect may serve it.
 */
export function refusalBeforeConnect(
  handler: UniversalHandler,
  req: NodeServerRequest,
  compressions: readonly Compression[],
): DirectRefusal | ProtocolRefusal | undefined {
  const method = req.method ?? "";
  const path = `${handler.service.typeName}/${handler.method.name}`;
  if (!handler.allowedMethods.includes(method)) {
    const error = new AppError("METHOD_NOT_ALLOWED", `${path} takes ${handler.allowedMethods.join(" or ")}.`, {
      logDetail: `HTTP method ${method}`,
    });
    return { kind: "answer", error, httpStatus: 405, extra: { allow: handler.allowedMethods.join(", ") } };
  }
  const type = header(req, "content-type") ?? "";
  // A Connect GET (methods without side effects only) carries no content type.
  if (method !== "GET" && !handler.supportedContentType(type)) {
    const error = new AppError(
      "CONTENT_TYPE_UNSUPPORTED",
      `${path} is served over Connect, gRPC and gRPC-Web; the content type is none of theirs.`,
      { logDetail: `content-type ${JSON.stringify(type.slice(0, 100))}` },
    );
    return { kind: "answer", error, httpStatus: 415 };
  }
  const protocol = rpcProtocolOf(type);
  const timeoutHeader = protocol === "connect" ? "connect-timeout-ms" : "grpc-timeout";
  const timeout =
    protocol === "connect"
      ? parseConnectTimeout(header(req, timeoutHeader), Number.MAX_SAFE_INTEGER)
      : parseGrpcTimeout(header(req, timeoutHeader), Number.MAX_SAFE_INTEGER);
  if (timeout.error) {
    const error = new AppError("TIMEOUT_MALFORMED", `The ${timeoutHeader} header is not a valid timeout.`, {
      logDetail: timeout.error.rawMessage,
    });
    return { kind: "through-connect", error, dropHeader: timeoutHeader };
  }
  const [encodingHeader, acceptHeader] =
    protocol !== "connect"
      ? ["grpc-encoding", "grpc-accept-encoding"]
      : type.toLowerCase().startsWith("application/connect+")
        ? ["connect-content-encoding", "connect-accept-encoding"]
        : ["content-encoding", "accept-encoding"];
  const compression = compressionNegotiate(
    [...compressions],
    header(req, encodingHeader),
    header(req, acceptHeader),
    acceptHeader,
  );
  if (compression.error) {
    const names = compressions.map((c) => c.name).join(", ");
    const error = new AppError(
      "ENCODING_UNSUPPORTED",
      `The request is compressed with an encoding this server does not take (it takes ${names} or identity).`,
      { logDetail: `${encodingHeader} ${JSON.stringify(header(req, encodingHeader)?.slice(0, 100))}` },
    );
    return { kind: "through-connect", error, dropHeader: encodingHeader };
  }
  return undefined;
}

const RPC_PATH = /^\/[A-Za-z_]\w*(\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;

/**
 * Answers a request to a path no operation is served at: an RPC (an RPC
 * content type, or a `/package.Service/Method` path) gets UNIMPLEMENTED in its
 * protocol (Connect: HTTP 404 with its error JSON, as the Connect protocol
 * asks for an unknown procedure), anything else the documented JSON 404.
 */
export function answerRouteNotFound(req: NodeServerRequest, res: NodeServerResponse): void {
  const path = (req.url ?? "/").split("?", 1)[0] as string;
  const type = header(req, "content-type") ?? "";
  const error = new AppError("ROUTE_NOT_FOUND", `No operation is served at ${req.method} ${path}.`);
  const rpc = type.toLowerCase().startsWith("application/grpc") || RPC_PATH.test(path);
  if (!rpc) {
    sendError(req, res, error);
    return;
  }
  // The body is not wanted; let it drain rather than be parsed as a request.
  req.resume();
  answerRpcError(req, res, error, { httpStatus: 404 });
}
