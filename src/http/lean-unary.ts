/**
 * The shared skeleton of the lean unary routes for InitiateService (gRPC in
 * grpc-unary-route.ts, Connect in connect-unary-route.ts). They exist because
 * connect-node's per-call machinery (web-standard Headers, AbortSignals and
 * async iterables for every request) costs more than the work itself; see
 * bench/README.md. The skeleton does what both need: admission refusal,
 * deadline, body reading, the core call and the request state. Each protocol
 * supplies how its body is decoded and how an answer or an error is written,
 * using connect's own protocol helpers so both paths answer alike.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import {
  InitiateService,
  SaleRequestSchema,
  SaleResponseSchema,
  VerificationRequestSchema,
  VerificationResponseSchema,
} from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type AppError, toAppError } from "../core/error-catalogue.js";
import type { Operation } from "../core/initiate-request.js";
import type { InitiateResult, Initiator } from "../core/initiator.js";
import { refusalOf } from "./admission.js";
import { armDeadline } from "./deadline.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";
import { ClientGoneError, readBody } from "./read-body.js";
import { noteSuccess, requestStateOf } from "./request-state.js";
import type { Route } from "./route.js";

/** One InitiateService method as the lean routes serve it. */
export interface LeanMethod {
  readonly operation: Operation;
  readonly input: DescMessage;
  readonly output: typeof SaleResponseSchema | typeof VerificationResponseSchema;
}

/** InitiateService's methods by request path. */
const LEAN_METHODS: ReadonlyMap<string, LeanMethod> = new Map([
  [
    `/${InitiateService.typeName}/${InitiateService.method.sale.name}`,
    { operation: "sale", input: SaleRequestSchema, output: SaleResponseSchema },
  ],
  [
    `/${InitiateService.typeName}/${InitiateService.method.verification.name}`,
    { operation: "verification", input: VerificationRequestSchema, output: VerificationResponseSchema },
  ],
]);

/** How one protocol picks its requests, reads them and writes its answers. */
export interface LeanCodec {
  /** Whether a POST to a LEAN_METHODS path is this protocol's common case (else connect serves it). */
  takes(req: NodeServerRequest): boolean;
  /** The caller's timeout header as connect parses it. */
  callerTimeout(req: NodeServerRequest): { timeoutMs?: number | undefined; error?: unknown };
  /** The message (or JSON-shaped body) for the core; throws AppError when malformed. */
  decode(body: Buffer, method: LeanMethod): unknown;
  answer(res: NodeServerResponse, method: LeanMethod, result: InitiateResult): void;
  answerError(req: NodeServerRequest, res: NodeServerResponse, error: AppError): void;
}

/** The deadline of one call: the caller's when sooner than the server's. */
export interface LeanDeadline {
  readonly timeoutMs: number;
  readonly callerDeadline: boolean;
}

/**
 * The deadline from a protocol's timeout header as connect parsed it, or
 * undefined when the header is malformed (connect then answers in its words).
 */
function leanDeadline(
  parsed: { timeoutMs?: number | undefined; error?: unknown },
  serverTimeoutMs: number,
): LeanDeadline | undefined {
  if (parsed.error) return undefined;
  const callerDeadline = parsed.timeoutMs !== undefined && parsed.timeoutMs < serverTimeoutMs;
  return { timeoutMs: callerDeadline ? (parsed.timeoutMs as number) : serverTimeoutMs, callerDeadline };
}

/**
 * The route of one protocol: serves its common case and returns true, or
 * returns false so connect serves the request.
 */
export function leanUnaryRoute(
  core: Initiator,
  codec: LeanCodec,
  options: { readonly maxBodyBytes: number; readonly requestTimeoutMs: number },
): Route {
  return (req, res, path) => {
    const method = LEAN_METHODS.get(path);
    if (method === undefined || req.method !== "POST" || !codec.takes(req)) return false;
    const deadline = leanDeadline(codec.callerTimeout(req), options.requestTimeoutMs);
    if (deadline === undefined) return false;
    serveLeanUnary(core, codec, req, res, method, { maxBodyBytes: options.maxBodyBytes, deadline });
    return true;
  };
}

/** Serves one call; never throws, always answers (unless the caller left). */
function serveLeanUnary(
  core: Initiator,
  codec: LeanCodec,
  req: NodeServerRequest,
  res: NodeServerResponse,
  method: LeanMethod,
  limits: { readonly maxBodyBytes: number; readonly deadline: LeanDeadline },
): void {
  const log = requestStateOf(req);
  if (log) log.operation = method.operation;
  const fail = (error: AppError) => {
    if (res.headersSent || res.writableEnded) return;
    if (log) log.error = error;
    codec.answerError(req, res, error);
  };

  async function run(): Promise<void> {
    const { timeoutMs, callerDeadline } = limits.deadline;
    if (log) armDeadline(req, res, log, { ms: timeoutMs, callerDeadline }, fail);
    const refusal = refusalOf(req);
    if (refusal) throw refusal;
    // The same bound connect applies: the whole body as sent.
    const message = codec.decode(await readBody(req, limits.maxBodyBytes), method);
    const result = await core.initiate(method.operation, message);
    // The deadline may have answered already; the session stays stored.
    if (res.headersSent || res.writableEnded) return;
    noteSuccess(log, result);
    codec.answer(res, method, result);
  }

  run().catch((e: unknown) => {
    if (e instanceof ClientGoneError) return;
    const error = toAppError(e);
    // Discard the rest of a body that was too large.
    if (error.code === "BODY_TOO_LARGE") req.resume();
    fail(error);
  });
}
