/**
 * gRPC server reflection (`grpc.reflection.v1` and `v1alpha`), so `buf curl`
 * and `grpcurl` work without a schema flag. It answers from the generated
 * descriptors of the services registered on the router (InitiateService,
 * AuthService, Health, and reflection itself), collected when first asked,
 * so a service added later to the router needs nothing here.
 */
import {
  create,
  createFileRegistry,
  type DescFile,
  type FileRegistry,
  fromBinary,
  type MessageInitShape,
  toBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  ServerReflection as ReflectionV1,
  type ServerReflectionRequest as RequestV1,
  ServerReflectionRequestSchema as RequestV1Schema,
  type ServerReflectionResponse as ResponseV1,
  ServerReflectionResponseSchema as ResponseV1Schema,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import {
  ServerReflection as ReflectionV1Alpha,
  type ServerReflectionRequest as RequestV1Alpha,
  ServerReflectionRequestSchema as RequestV1AlphaSchema,
  ServerReflectionResponseSchema as ResponseV1AlphaSchema,
} from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

// gRPC status codes used in ErrorResponse.error_code.
const NOT_FOUND = 5;
const UNIMPLEMENTED = 12;

/** What reflection knows: every file of the served services, with their dependencies. */
interface Catalogue {
  readonly registry: FileRegistry;
  readonly services: readonly string[];
}

function catalogueOf(router: ConnectRouter): Catalogue {
  const ordered: DescFile[] = [];
  const seen = new Set<string>();
  // Dependencies first, as in a FileDescriptorSet written by protoc.
  const visit = (file: DescFile) => {
    if (seen.has(file.name)) return;
    seen.add(file.name);
    for (const dep of file.dependencies) visit(dep);
    ordered.push(file);
  };
  const services = new Set<string>();
  for (const h of router.handlers) {
    services.add(h.service.typeName);
    visit(h.service.file);
  }
  const registry = createFileRegistry(create(FileDescriptorSetSchema, { file: ordered.map((f) => f.proto) }));
  return { registry, services: [...services].sort() };
}

/** The file holding a fully-qualified symbol: a type, a service, a method, a field or an enum value. */
function fileOfSymbol(registry: FileRegistry, symbol: string): DescFile | undefined {
  const direct = registry.get(symbol);
  if (direct) return direct.file;
  const dot = symbol.lastIndexOf(".");
  if (dot <= 0) return undefined;
  const parent = registry.get(symbol.slice(0, dot));
  const member = symbol.slice(dot + 1);
  if (parent?.kind === "service" && parent.methods.some((m) => m.name === member)) return parent.file;
  if (parent?.kind === "message" && parent.fields.some((f) => f.name === member)) return parent.file;
  if (parent?.kind === "enum" && parent.values.some((v) => v.name === member)) return parent.file;
  return undefined;
}

type Answer = MessageInitShape<typeof ResponseV1Schema>["messageResponse"];

function notFound(message: string): Answer {
  return { case: "errorResponse", value: { errorCode: NOT_FOUND, errorMessage: message } };
}

/**
 * Answers one request. `sent` holds the files already sent on this stream:
 * as gRPC's own servers do, a file is sent with its dependencies not sent yet.
 */
function answer(catalogue: Catalogue, req: RequestV1, sent: Set<string>): Answer {
  const { registry } = catalogue;
  const withDeps = (file: DescFile): Answer => {
    const out: Uint8Array[] = [];
    const add = (f: DescFile, root: boolean) => {
      if (!root && sent.has(f.name)) return;
      sent.add(f.name);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
      for (const dep of f.dependencies) add(dep, false);
    };
    add(file, true);
    return { case: "fileDescriptorResponse", value: { fileDescriptorProto: out } };
  };
  const m = req.messageRequest;
  switch (m.case) {
    case "listServices":
      return {
        case: "listServicesResponse",
        value: { service: catalogue.services.map((name) => ({ name })) },
      };
    case "fileByFilename": {
      const file = registry.getFile(m.value);
      return file ? withDeps(file) : notFound(`file not found: ${m.value}`);
    }
    case "fileContainingSymbol": {
      const file = fileOfSymbol(registry, m.value);
      return file ? withDeps(file) : notFound(`symbol not found: ${m.value}`);
    }
    case "fileContainingExtension": {
      const extendee = registry.getMessage(m.value.containingType);
      const ext = extendee && registry.getExtensionFor(extendee, m.value.extensionNumber);
      return ext
        ? withDeps(ext.file)
        : notFound(`extension not found: ${m.value.containingType} ${m.value.extensionNumber}`);
    }
    case "allExtensionNumbersOfType": {
      const message = registry.getMessage(m.value);
      if (!message) return notFound(`type not found: ${m.value}`);
      const numbers: number[] = [];
      for (const type of registry) {
        if (type.kind === "extension" && type.extendee.typeName === m.value) numbers.push(type.number);
      }
      return {
        case: "allExtensionNumbersResponse",
        value: { baseTypeName: m.value, extensionNumber: numbers },
      };
    }
    default:
      return {
        case: "errorResponse",
        value: { errorCode: UNIMPLEMENTED, errorMessage: "unsupported request" },
      };
  }
}

/**
 * Registers ServerReflection v1 and v1alpha on the router. Call it after every
 * other service is registered; it reads the router's handlers on first use.
 */
export function registerReflection(router: ConnectRouter): void {
  let catalogue: Catalogue | undefined;
  const get = () => {
    catalogue ??= catalogueOf(router);
    return catalogue;
  };
  async function* serve(requests: AsyncIterable<RequestV1>): AsyncIterable<ResponseV1> {
    const sent = new Set<string>();
    for await (const req of requests) {
      yield create(ResponseV1Schema, {
        validHost: req.host,
        originalRequest: req,
        messageResponse: answer(get(), req, sent),
      });
    }
  }
  // v1alpha has the same fields and numbers as v1, only another package: its
  // messages are translated through the wire format and served by v1.
  async function* asV1(requests: AsyncIterable<RequestV1Alpha>): AsyncIterable<RequestV1> {
    for await (const req of requests) yield fromBinary(RequestV1Schema, toBinary(RequestV1AlphaSchema, req));
  }
  router.service(ReflectionV1, { serverReflectionInfo: (requests) => serve(requests) });
  router.service(ReflectionV1Alpha, {
    async *serverReflectionInfo(requests) {
      for await (const res of serve(asV1(requests))) {
        yield fromBinary(ResponseV1AlphaSchema, toBinary(ResponseV1Schema, res));
      }
    },
  });
}
