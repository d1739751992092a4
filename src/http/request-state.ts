/**
 * The per-request record: what the request holds while it is served
 * (admission's place or refusal, its deadline) and the facts its one log line
 * says when it ends. Routes fill in what they learn (operation, outcome,
 * endpoint, invoice); nothing secret is ever put here.
 */
import { createContextKey } from "@connectrpc/connect";
import type { CardAction } from "../core/card-request.js";
import type { NoteCardFacts } from "../core/device-cards.js";
import type { AppError } from "../core/error-catalogue.js";
import type { InitiateResult } from "../core/initiator.js";
import type { NodeServerRequest, NodeServerResponse } from "./node-types.js";

/** What a final-status callback's log line says of it. */
export interface CallbackLogFields {
  readonly status: string;
  readonly type: string;
  readonly orderid: string;
  readonly client_orderid: string;
  readonly duplicate: boolean;
}

/** How the request reached us. */
export type Protocol = "json" | "connect" | "grpc" | "grpc-web" | "http";

/** One request's state, and what its log line says. */
export interface RequestState {
  readonly requestId: string;
  readonly protocol: Protocol;
  readonly startedAt: bigint;
  /** The operation's label in the log line and metrics: sale, verification, check-sale, ... */
  operation?: string;
  /** Set when the request ended in an AppError. */
  error?: AppError;
  endpointId?: string;
  invoiceId?: string;
  /** A received final-status callback's identifying parameters (never `control`). */
  callback?: CallbackLogFields;
  /** Set when the request succeeded but an operator should look: its line is logged as a warning. */
  warning?: string;
  /** The device a card call is about (the card paths and services). */
  serialNumber?: string;
  /**
   * The card a card call or a card mapping notification names: the only card
   * reference a log line ever holds (never its serverCardId).
   */
  clientCardId?: string;
  /** Counted against limits.maxInFlight by admission; released when the request ends. */
  admitted?: boolean;
  /** Why admission refused the request, if it did; the route that serves it answers this. */
  refusal?: AppError;
  /** The deadline's timer (deadline.ts), cleared when the request ends. */
  deadline?: NodeJS.Timeout | undefined;
  /** Answers the request when its deadline passes; set by the route serving it. */
  onDeadline?: ((error: AppError) => void) | undefined;
  /** The error due once the deadline has passed. */
  expired?: AppError;
  /**
   * A server stream's bound once it streams, replacing the request deadline
   * at its first message (WatchSession: a backstop past its own cap, for a
   * caller that stops reading). Undefined: unbounded once it streams
   * (Health.Watch). Until then every request has the request deadline.
   */
  streamBoundMs?: number;
  /** Restarts the armed deadline with another length (deadline.ts extendDeadline). */
  restartDeadline?: (ms: number) => void;
}

// The record rides on the request object under a private symbol. A WeakMap
// would do the same, but every request would add an entry the garbage
// collector has to process as an ephemeron.
const kState = Symbol("request state");
type WithState = NodeServerRequest & { [kState]?: RequestState };

/** Attaches the record to a request, so later stages find it. */
export function attachRequestState(req: NodeServerRequest, log: RequestState): void {
  (req as WithState)[kState] = log;
}

/** The record of a request (always set by the request listener). */
export function requestStateOf(req: NodeServerRequest): RequestState | undefined {
  return (req as WithState)[kState];
}

/**
 * The request id for the `x-request-id` header of the answer on `res`. Every
 * writer puts it in the one header object it hands to writeHead, instead of
 * the listener setting it up front: a header set with setHeader before
 * writeHead sends node down its slower merging path, which cost about 4% of
 * the JSON path's throughput (bench/README.md).
 */
export function requestIdOf(res: NodeServerResponse): string {
  // The listener gives every request a record; "-" only for a response it did not route.
  return requestStateOf(res.req)?.requestId ?? "-";
}

/** Carries the record into Connect handlers through context values. */
export const kRequestState = createContextKey<RequestState | undefined>(undefined, { description: "request state" });

/** Records a successful initiate. */
export function noteSuccess(log: RequestState | undefined, result: InitiateResult): void {
  if (!log) return;
  log.endpointId = result.endpointId;
  log.invoiceId = result.invoiceId;
}

/** Records a card call's device and card in its log line, once its body is valid. */
export function cardFactsNoter(log: RequestState | undefined): NoteCardFacts | undefined {
  if (!log) return undefined;
  return (facts) => {
    log.serialNumber = facts.serialNumber;
    log.clientCardId = facts.clientCardId;
  };
}

const CHECK_PATH = /^\/(?:sale|verification)\/[^/]+\/check$/;
const NOTIFICATION_PATH = /^\/(?:sale|verification)\/(?:[^/]+\/)?notification$/;
/** The operation label of the app's card calls, on the JSON paths and DeviceCardService alike. */
export const CARD_LABELS: Readonly<Record<CardAction, string>> = { list: "list-cards", delete: "delete-card" };

/** The JSON paths of the app's cards (card-json-route.ts). */
export const CARD_JSON_PATHS: ReadonlyMap<string, CardAction> = new Map<string, CardAction>([
  ["/cards/list-cards", "list"],
  ["/cards/delete-card", "delete"],
]);
const RPC_PATH = /^\/[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+\/[A-Za-z_]\w*$/;

/** Tells the protocol from the path and content type, for logs and metrics. */
export function detectProtocol(path: string, contentType: string | undefined): Protocol {
  const type = contentType ?? "";
  if (type.startsWith("application/grpc-web")) return "grpc-web";
  if (type.startsWith("application/grpc")) return "grpc";
  if (path === "/sale/initiate-sale" || path === "/verification/initiate-verification") return "json";
  if (CHECK_PATH.test(path) || NOTIFICATION_PATH.test(path) || CARD_JSON_PATHS.has(path)) return "json";
  // An RPC path is "/<package>.<Service>/<Method>": a dot in its first segment.
  if (RPC_PATH.test(path)) return "connect";
  return "http";
}
