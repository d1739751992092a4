/**
 * Server reflection: the real `buf curl` lists the methods and calls Sale with
 * no --schema (it learns the schema from the server), over v1 and v1alpha;
 * and the reflection answers themselves, read with a gRPC client.
 */
import { execFile } from "node:child_process";
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
  it("--list-methods lists InitiateService, AuthService, Health and reflection", async () => {
    const { stdout } = await run(BUF, ["curl", "--list-methods", "--http2-prior-knowledge", s.url]);
    const methods = stdout.trim().split("\n");
    expect(methods).toEqual(
      expect.arrayContaining([
        "toptechpay.initiate.v1.InitiateService/Sale",
        "toptechpay.initiate.v1.InitiateService/Verification",
        "toptechpay.auth.v1.AuthService/IssueAccessToken",
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

  it("file_by_filename gives the health file", async () => {
    const [r] = await reflect([
      { host: "", messageRequest: { case: "fileByFilename", value: "health/v1/health.proto" } },
    ]);
    expect(r?.messageResponse.case).toBe("fileDescriptorResponse");
    if (r?.messageResponse.case !== "fileDescriptorResponse") return;
    const proto = fromBinary(FileDescriptorProtoSchema, r.messageResponse.value.fileDescriptorProto[0] as Uint8Array);
    expect(proto.package).toBe("grpc.health.v1");
    expect(proto.service.map((x) => x.name)).toEqual(["Health"]);
  });
});
