/**
 * Server reflection: the real `buf curl` lists the methods and calls Sale with
 * no --schema (it learns the schema from the server), over v1 and v1alpha;
 * and the reflection answers themselves, read with a gRPC client.
 */
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { join } from "node:path";
import { promisify } from "node:util";
import { createFileRegistry, fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServerReflection, type ServerReflectionRequestSchema } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionAlpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { expectSignedAnswer, saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
// protobufjs with its descriptor extension: the descriptor library of @grpc/grpc-js.
const protobuf = require("protobufjs") as typeof import("protobufjs") & {
  Root: { fromDescriptor(set: unknown): unknown };
};
const descriptor = require("protobufjs/ext/descriptor") as {
  FileDescriptorProto: { decode(bytes: Uint8Array): unknown };
};
/** The health schema's file name in grpc-proto, and so in every client that holds it. */
const HEALTH_FILE = "grpc/health/v1/health.proto";
const BUF = "node_modules/.bin/buf";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

type Init = MessageInitShape<typeof ServerReflectionRequestSchema>;

/** Sends reflection requests on one stream and returns the answers. */
async function reflect(requests: Init[], alpha = false) {
  const transport = createGrpcTransport({ baseUrl: s.url });
  async function* input() {
    for (const r of requests) yield r;
  }
  const out = [];
  if (alpha) {
    for await (const r of createClient(ServerReflectionAlpha, transport).serverReflectionInfo(input() as never))
      out.push(r);
  } else {
    for await (const r of createClient(ServerReflection, transport).serverReflectionInfo(input())) out.push(r);
  }
  return out;
}

describe("buf curl with reflection", () => {
  it("--list-methods lists every served service: ours, Health and reflection", async () => {
    const { stdout } = await run(BUF, ["curl", "--list-methods", "--http2-prior-knowledge", s.url]);
    const methods = stdout.trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "toptechpay.initiate.v1.InitiateService/Sale",
        "toptechpay.initiate.v1.InitiateService/Verification",
        "toptechpay.auth.v1.AuthService/IssueAccessToken",
        "toptechpay.gateway.v1.GatewayService/CheckSale",
        "toptechpay.gateway.v1.GatewayService/SaleNotification",
        "toptechpay.gateway.v1.GatewayService/VerificationNotification",
        "toptechpay.session.v1.SessionService/WatchSession",
        "toptechpay.card.v1.DeviceCardService/ListDeviceCards",
        "toptechpay.card.v1.DeviceCardService/DeleteDeviceCard",
        "toptechpay.card.v1.CardService/ListCards",
        "toptechpay.card.v1.CardService/DeleteCard",
        "grpc.health.v1.Health/Check",
        "grpc.health.v1.Health/Watch",
        "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      ]),
    );
  });

  for (const [protocol, reflectProtocol] of [
    ["grpc", "grpc-v1"],
    ["connect", "grpc-v1alpha"],
  ] as const) {
    it(`calls Sale with no --schema (${protocol}, reflection ${reflectProtocol})`, async () => {
      const body = saleBody(s.accessToken);
      const { stdout } = await run(BUF, [
        "curl",
        "--http2-prior-knowledge",
        "--protocol",
        protocol,
        "--reflect-protocol",
        reflectProtocol,
        "-d",
        JSON.stringify(body),
        `${s.url}/toptechpay.initiate.v1.InitiateService/Sale`,
      ]);
      expectSignedAnswer(JSON.parse(stdout), { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
    });
  }
});

describe("reflection answers", () => {
  it("file_containing_symbol of a method gives its file, then only files not sent yet", async () => {
    const [first, second] = await reflect([
      {
        host: "",
        messageRequest: { case: "fileContainingSymbol", value: "toptechpay.initiate.v1.InitiateService.Sale" },
      },
      { host: "", messageRequest: { case: "fileContainingSymbol", value: "toptechpay.initiate.v1.SaleRequest" } },
    ]);
    const names = (r: typeof first) =>
      r?.messageResponse.case === "fileDescriptorResponse"
        ? r.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
        : [];
    expect(names(first)[0]).toBe("toptechpay/initiate/v1/initiate.proto");
    // The root file is always sent; its dependencies only once per stream.
    expect(names(second)).toEqual(["toptechpay/initiate/v1/initiate.proto"]);
    // What was sent describes the service completely.
    const protos =
      first?.messageResponse.case === "fileDescriptorResponse"
        ? first.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b))
        : [];
    const registry = createFileRegistry(protos[0] as never, (name) => protos.find((p) => p.name === name));
    expect(registry.getService("toptechpay.initiate.v1.InitiateService")?.methods.map((m) => m.name)).toEqual([
      "Sale",
      "Verification",
    ]);
  });

  it("list_services over v1alpha; unknown symbol and file are NOT_FOUND", async () => {
    const [list, symbol, file] = await reflect(
      [
        { host: "", messageRequest: { case: "listServices", value: "" } },
        { host: "", messageRequest: { case: "fileContainingSymbol", value: "no.such.Thing" } },
        { host: "", messageRequest: { case: "fileByFilename", value: "no/such.proto" } },
      ],
      true,
    );
    expect(list?.messageResponse.case).toBe("listServicesResponse");
    const services =
      list?.messageResponse.case === "listServicesResponse"
        ? list.messageResponse.value.service.map((x) => x.name)
        : [];
    expect(services).toEqual(
      expect.arrayContaining([
        "toptechpay.initiate.v1.InitiateService",
        "toptechpay.auth.v1.AuthService",
        "grpc.health.v1.Health",
      ]),
    );
    for (const r of [symbol, file]) {
      expect(r?.messageResponse.case).toBe("errorResponse");
      if (r?.messageResponse.case === "errorResponse") expect(r.messageResponse.value.errorCode).toBe(5);
    }
  });

  it("serves the health schema under its canonical file name grpc/health/v1/health.proto", async () => {
    const [byName, oldName, bySymbol] = await reflect([
      { host: "", messageRequest: { case: "fileByFilename", value: HEALTH_FILE } },
      { host: "", messageRequest: { case: "fileByFilename", value: "health/v1/health.proto" } },
      { host: "", messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } },
    ]);
    expect(byName?.messageResponse.case).toBe("fileDescriptorResponse");
    if (byName?.messageResponse.case !== "fileDescriptorResponse") return;
    const proto = fromBinary(
      FileDescriptorProtoSchema,
      byName.messageResponse.value.fileDescriptorProto[0] as Uint8Array,
    );
    expect(proto.name).toBe(HEALTH_FILE);
    expect(proto.package).toBe("grpc.health.v1");
    expect(proto.service.map((x) => x.name)).toEqual(["Health"]);
    // The old, non-canonical name is gone.
    expect(oldName?.messageResponse.case).toBe("errorResponse");
    expect(bySymbol?.messageResponse.case).toBe("fileDescriptorResponse");
    if (bySymbol?.messageResponse.case !== "fileDescriptorResponse") return;
    const first = fromBinary(
      FileDescriptorProtoSchema,
      bySymbol.messageResponse.value.fileDescriptorProto[0] as Uint8Array,
    );
    expect(first.name).toBe(HEALTH_FILE);
  });

  it("a client that already holds the standard health.proto merges the reflected files without a duplicate symbol", async () => {
    // What a reflection client does (grpcurl, grpc-go, Python's descriptor
    // pool): files it already holds are kept by name, the others are added;
    // a symbol defined by two differently named files is an error.
    // protobufjs (the descriptor library under @grpc/grpc-js and
    // @grpc/proto-loader) raises it when it builds the schema.
    const root = protobuf.loadSync(join("node_modules", "grpc-health-check", "proto", "health", "v1", "health.proto"));
    const set = (root as unknown as { toDescriptor(syntax: string): { file: { name: string }[] } }).toDescriptor(
      "proto3",
    );
    const standard = set.file[0] as { name: string };
    standard.name = HEALTH_FILE;
    const reflected = (
      await reflect([{ host: "", messageRequest: { case: "fileContainingSymbol", value: "grpc.health.v1.Health" } }])
    )
      .flatMap((x) =>
        x.messageResponse.case === "fileDescriptorResponse" ? x.messageResponse.value.fileDescriptorProto : [],
      )
      .map((b) => descriptor.FileDescriptorProto.decode(b) as unknown as { name: string });
    const merge = (files: { name: string }[]) => {
      const held = new Map<string, unknown>([[standard.name, standard]]);
      for (const f of files) if (!held.has(f.name)) held.set(f.name, f);
      return () => protobuf.Root.fromDescriptor({ file: [...held.values()] } as never);
    };
    expect(merge(reflected)).not.toThrow();
    // The same files under the old name clash with the standard one.
    const renamed = reflected.map((f) => (f.name === HEALTH_FILE ? { ...f, name: "health/v1/health.proto" } : f));
    expect(merge(renamed)).toThrow(/duplicate name/);
  });
});
