/**
 * A stock @grpc/grpc-js client built from the repo's .proto files with
 * @grpc/proto-loader, and a decoder of `grpc-status-details-bin` written with
 * protobufjs (google.rpc.Status holding toptechpay ErrorDetail), so tests read
 * errors the way a third-party gRPC caller does, not through connect.
 */
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll } from "vitest";

const require = createRequire(import.meta.url);
const protobuf = require("protobufjs") as typeof import("protobufjs");

const PROTO_FILES = ["toptechpay/initiate/v1/initiate.proto", "toptechpay/auth/v1/auth.proto"];

// google.rpc.Status as published in googleapis (google/rpc/status.proto).
const STATUS_PROTO = `syntax = "proto3";
package google.rpc;
import "google/protobuf/any.proto";
message Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }`;

const root = protobuf.loadSync(PROTO_FILES.map((f) => `proto/${f}`));
// google.protobuf.Any from protobufjs's bundled well-known types.
root.addJSON(
  (protobuf.common.get("google/protobuf/any.proto") as { nested: protobuf.INamespace["nested"] }).nested ?? {},
);
protobuf.parse(STATUS_PROTO, root);
const StatusType = root.lookupType("google.rpc.Status");
const ErrorDetailType = root.lookupType("toptechpay.initiate.v1.ErrorDetail");

/** The ErrorDetail a caller reads. */
export interface Detail {
  cause: string;
  code: string;
  message: string;
}

/** What a failed call told the client. */
export interface GrpcFailure {
  /** grpc.status code. */
  code: number;
  details: string;
  /** Decoded from grpc-status-details-bin; undefined when absent. */
  detail: Detail | undefined;
  /** The google.rpc.Status code inside grpc-status-details-bin (must equal `code`). */
  statusCode: number | undefined;
  metadata: grpc.Metadata;
}

/** Decodes one toptechpay ErrorDetail message (as a Connect error JSON carries it, base64). */
export function decodeErrorDetail(bytes: Uint8Array): Detail {
  return ErrorDetailType.toObject(ErrorDetailType.decode(bytes)) as Detail;
}

/** Decodes grpc-status-details-bin into its ErrorDetail (exactly one is expected). */
export function decodeStatusDetails(bin: Buffer | undefined): { statusCode?: number; details: Detail[] } {
  if (bin === undefined) return { details: [] };
  const status = StatusType.toObject(StatusType.decode(bin)) as {
    code?: number;
    details?: { type_url?: string; typeUrl?: string; value: Uint8Array }[];
  };
  const details = (status.details ?? []).map((any) => {
    const url = any.type_url ?? any.typeUrl;
    if (url !== "type.googleapis.com/toptechpay.initiate.v1.ErrorDetail") throw new Error(`unexpected detail ${url}`);
    return ErrorDetailType.toObject(ErrorDetailType.decode(any.value)) as Detail;
  });
  return { statusCode: status.code ?? 0, details };
}

function failureOf(e: grpc.ServiceError): GrpcFailure {
  const bin = e.metadata?.get("grpc-status-details-bin")[0] as Buffer | undefined;
  const decoded = decodeStatusDetails(bin);
  if (decoded.details.length > 1) throw new Error("more than one ErrorDetail");
  return {
    code: e.code,
    details: e.details,
    detail: decoded.details[0],
    statusCode: decoded.statusCode,
    metadata: e.metadata,
  };
}

// biome-ignore lint/suspicious/noExplicitAny: proto-loader's package object is untyped.
type Loaded = any;

/** Stock grpc-js clients of InitiateService and AuthService at `127.0.0.1:port`. */
export function grpcJsClients(port: number, options: grpc.ChannelOptions = {}) {
  const definition = protoLoader.loadSync(PROTO_FILES, { includeDirs: ["proto"], longs: String, defaults: false });
  const pkg = grpc.loadPackageDefinition(definition) as Loaded;
  const address = `127.0.0.1:${port}`;
  const credentials = grpc.credentials.createInsecure();
  const initiate = new pkg.toptechpay.initiate.v1.InitiateService(address, credentials, options) as grpc.Client;
  const auth = new pkg.toptechpay.auth.v1.AuthService(address, credentials, options) as grpc.Client;
  const generic = new grpc.Client(address, credentials, options);

  /** Calls `method` of a generated client; resolves with the answer or the failure. */
  function call(
    client: grpc.Client,
    method: string,
    request: object,
    metadata = new grpc.Metadata(),
    callOptions: grpc.CallOptions = {},
  ): Promise<{ ok: true; value: Record<string, unknown> } | ({ ok: false } & GrpcFailure)> {
    return new Promise((resolve) => {
      (client as Loaded)[method](request, metadata, callOptions, (e: grpc.ServiceError | null, value: unknown) => {
        if (e) resolve({ ok: false, ...failureOf(e) });
        else resolve({ ok: true, value: value as Record<string, unknown> });
      });
    });
  }

  /** Sends raw message bytes to any path (grpc-js's own generic client). */
  function raw(
    path: string,
    bytes: Buffer,
    metadata = new grpc.Metadata(),
  ): Promise<{ ok: true } | ({ ok: false } & GrpcFailure)> {
    return new Promise((resolve) => {
      generic.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytes,
        metadata,
        {},
        (e: grpc.ServiceError | null) => resolve(e ? { ok: false, ...failureOf(e) } : { ok: true }),
      );
    });
  }

  return {
    initiate,
    auth,
    call,
    raw,
    close() {
      initiate.close();
      auth.close();
      generic.close();
    },
  };
}

/** How a server stream ended, as a grpc-js caller sees it. */
export interface WatchEnd {
  code: number;
  details: string;
  detail: Detail | undefined;
}

/** A WatchSession call and what it streamed so far. */
export interface WatchStream {
  readonly stream: grpc.ClientReadableStream<unknown>;
  /** Each message's session, in order (enums as their names). */
  readonly messages: Record<string, unknown>[];
  readonly ended: Promise<WatchEnd>;
  /** Waits until `count` messages came; the last of them. */
  received(count: number, withinMs?: number): Promise<Record<string, unknown>>;
}

const GATEWAY_PROTO_FILES = ["toptechpay/gateway/v1/gateway.proto", "toptechpay/session/v1/session.proto"];

/**
 * Stock grpc-js clients of GatewayService and SessionService at
 * `127.0.0.1:port` (enums as their names, int64 as strings), and the same
 * `call` as grpcJsClients.
 */
export function grpcJsGatewayClients(port: number, options: grpc.ChannelOptions = {}) {
  const definition = protoLoader.loadSync(GATEWAY_PROTO_FILES, {
    includeDirs: ["proto"],
    longs: String,
    enums: String,
    defaults: false,
  });
  const pkg = grpc.loadPackageDefinition(definition) as Loaded;
  const address = `127.0.0.1:${port}`;
  const credentials = grpc.credentials.createInsecure();
  const gateway = new pkg.toptechpay.gateway.v1.GatewayService(address, credentials, options) as grpc.Client;
  const sessions = new pkg.toptechpay.session.v1.SessionService(address, credentials, options) as grpc.Client;
  const { call, close } = grpcJsClients(port, options);
  /** Opens SessionService.WatchSession and collects what it streams. */
  function watch(invoiceId: string, metadata = new grpc.Metadata(), callOptions: grpc.CallOptions = {}): WatchStream {
    const stream = (sessions as Loaded).watchSession(
      { invoiceId },
      metadata,
      callOptions,
    ) as grpc.ClientReadableStream<{ session: Record<string, unknown> }>;
    const messages: Record<string, unknown>[] = [];
    const waiters: (() => void)[] = [];
    stream.on("data", (m: { session: Record<string, unknown> }) => {
      messages.push(m.session);
      for (const w of waiters.splice(0)) w();
    });
    const ended = new Promise<WatchEnd>((resolve) => {
      stream.on("status", (st: grpc.StatusObject) => {
        const bin = st.metadata.get("grpc-status-details-bin")[0] as Buffer | undefined;
        resolve({ code: st.code, details: st.details, detail: decodeStatusDetails(bin).details[0] });
        for (const w of waiters.splice(0)) w();
      });
    });
    // A failed stream also emits "error"; the status above says what it was.
    stream.on("error", () => undefined);
    let done = false;
    void ended.then(() => {
      done = true;
    });
    return {
      stream,
      messages,
      ended,
      async received(count, withinMs = 10_000) {
        const until = Date.now() + withinMs;
        while (messages.length < count) {
          if (done || Date.now() > until) throw new Error(`${messages.length} of ${count} messages`);
          await new Promise<void>((r) => {
            waiters.push(r);
            setTimeout(r, 100);
          });
        }
        return messages[count - 1] as Record<string, unknown>;
      },
    };
  }
  return {
    gateway,
    sessions,
    call,
    watch,
    close() {
      gateway.close();
      sessions.close();
      close();
    },
  };
}

/** grpcJsGatewayClients for a whole test file: closed after the file's last test. */
export function gatewayClientsForFile(port: number): ReturnType<typeof grpcJsGatewayClients> {
  const c = grpcJsGatewayClients(port);
  afterAll(() => c.close());
  return c;
}

/**
 * Stock grpc-js clients of DeviceCardService and CardService at
 * `127.0.0.1:port`, built from card.proto like the others, and the same
 * `call` as grpcJsClients.
 */
export function grpcJsCardClients(port: number, options: grpc.ChannelOptions = {}) {
  const definition = protoLoader.loadSync("toptechpay/card/v1/card.proto", {
    includeDirs: ["proto"],
    longs: String,
    enums: String,
    defaults: false,
  });
  const card = (grpc.loadPackageDefinition(definition) as Loaded).toptechpay.card.v1;
  const at = [`127.0.0.1:${port}`, grpc.credentials.createInsecure(), options] as const;
  const clients = { deviceCards: new card.DeviceCardService(...at), cards: new card.CardService(...at) };
  const base = grpcJsClients(port, options);
  return {
    deviceCards: clients.deviceCards as grpc.Client,
    cards: clients.cards as grpc.Client,
    call: base.call,
    close() {
      clients.deviceCards.close();
      clients.cards.close();
      base.close();
    },
  };
}
