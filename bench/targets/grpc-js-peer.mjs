/**
 * Peer 10, @grpc/grpc-js + better-sqlite3 + pino: InitiateService/Sale from
 * the project's .proto (loaded with @grpc/proto-loader) over h2c, validated by
 * `validateSale`, then the same service and store as the Fastify peer (token
 * lookup, one durable commit per request, `synchronous = FULL` in WAL mode)
 * and one pino line per call at info to stdout (a file in the bench).
 * Usage: node grpc-js-peer.mjs --db PATH
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import pino from "pino";
import { announce, errorAnswer, exitOnSignal } from "./baseline-work.mjs";
import { openPeer, validateSale } from "./peer-work.mjs";

const PROTO = fileURLToPath(new URL("../../proto/toptechpay/initiate/v1/initiate.proto", import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: false, longs: String, enums: String, defaults: false });
const pkg = grpc.loadPackageDefinition(definition);
const service = pkg.toptechpay.initiate.v1.InitiateService.service;

// Connect code names as the catalogue spells them, to gRPC status numbers.
const STATUS = {
  invalid_argument: grpc.status.INVALID_ARGUMENT,
  unauthenticated: grpc.status.UNAUTHENTICATED,
  permission_denied: grpc.status.PERMISSION_DENIED,
  not_found: grpc.status.NOT_FOUND,
  failed_precondition: grpc.status.FAILED_PRECONDITION,
  already_exists: grpc.status.ALREADY_EXISTS,
  unimplemented: grpc.status.UNIMPLEMENTED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  unavailable: grpc.status.UNAVAILABLE,
};

const log = pino({ level: "info" });
const peer = openPeer();
const server = new grpc.Server();
server.addService(service, {
  sale(call, callback) {
    const started = performance.now();
    try {
      const answer = peer.initiate(validateSale(call.request));
      log.info({ rpc: "Sale", code: 0, ms: performance.now() - started, invoiceId: answer.invoiceId }, "request");
      callback(null, answer);
    } catch (e) {
      const { connectCode, error } = errorAnswer(e);
      const code = STATUS[connectCode] ?? grpc.status.INTERNAL;
      log.info({ rpc: "Sale", code, ms: performance.now() - started, cause: error.code }, "request");
      callback({ code, details: error.message });
    }
  },
  verification(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED, details: "The peer serves Sale only." });
  },
});

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(`http://127.0.0.1:${port}`);
});
exitOnSignal(() => new Promise((resolve) => server.tryShutdown(() => resolve())));
