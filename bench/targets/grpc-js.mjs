/**
 * Baseline 7, @grpc/grpc-js: InitiateService/Sale from the project's .proto
 * (loaded with @grpc/proto-loader) doing the sale's work (baseline-work.mjs)
 * over h2c. int64 arrives as a decimal string, which the shared validation
 * accepts, as it does the bigint connect-node hands the server.
 */
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { announce, errorAnswer, exitOnSignal, initiateSale } from "./baseline-work.mjs";

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
  unimplemented: grpc.status.UNIMPLEMENTED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
  unavailable: grpc.status.UNAVAILABLE,
  internal: grpc.status.INTERNAL,
};

const server = new grpc.Server();
server.addService(service, {
  sale(call, callback) {
    try {
      callback(null, initiateSale(call.request));
    } catch (e) {
      const { connectCode, error } = errorAnswer(e);
      callback({ code: STATUS[connectCode] ?? grpc.status.INTERNAL, details: error.message });
    }
  },
  verification(_call, callback) {
    callback({ code: grpc.status.UNIMPLEMENTED, details: "The benchmark serves Sale only." });
  },
});

server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announce(`http://127.0.0.1:${port}`);
});
exitOnSignal(() => new Promise((resolve) => server.tryShutdown(() => resolve())));
