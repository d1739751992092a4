/**
 * The real `buf curl` binary against a real server, as the README shows it: the
 * schema from proto/ (no reflection), Connect, gRPC and gRPC-Web over h2c.
 * buf runs as a child process without blocking this process's event loop,
 * which serves its requests.
 */
import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ErrorDetailSchema } from "../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type Answer, expectSignedAnswer, saleBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const ROOT = resolve(import.meta.dirname, "..");
const BUF = resolve(ROOT, "node_modules/.bin/buf");

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

function bufCurl(protocol: string, body: string): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const args = ["curl", "--schema", "proto", "--protocol", protocol, "--http2-prior-knowledge", "-d", body];
  args.push(`${s.url}/toptechpay.initiate.v1.InitiateService/Sale`);
  return new Promise((done) => {
    execFile(BUF, args, { cwd: ROOT, timeout: 25_000 }, (error, stdout, stderr) => {
      const exitCode = error ? Number((error as NodeJS.ErrnoException).code ?? 1) : 0;
      done({ exitCode, stdout, stderr });
    });
  });
}

describe("buf curl", () => {
  for (const protocol of ["connect", "grpc", "grpcweb"]) {
    it(`starts a sale over ${protocol}`, async () => {
      const { exitCode, stdout, stderr } = await bufCurl(protocol, JSON.stringify(saleBody(s.accessToken)));
      expect(exitCode, stderr).toBe(0);
      const answer = JSON.parse(stdout) as Answer;
      expect(Object.keys(answer).sort()).toEqual(["endpointId", "invoiceId", "session"]);
      expectSignedAnswer(answer, { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
    });
  }

  it("shows an invalid request's code and ErrorDetail", async () => {
    const { exitCode, stdout, stderr } = await bufCurl("grpc", '{"transaction": {"currency": "EUR"}}');
    expect(exitCode).not.toBe(0);
    expect(stdout).toBe("");
    const error = JSON.parse(stderr) as { code: string; message: string; details: { type: string; value: string }[] };
    expect(error.code).toBe("invalid_argument");
    expect(error.details).toHaveLength(1);
    expect(error.details[0]?.type).toBe("toptechpay.initiate.v1.ErrorDetail");
    const detail = fromBinary(ErrorDetailSchema, base64Decode(error.details[0]?.value ?? ""));
    expect(detail).toMatchObject({
      cause: "INVALID_REQUEST",
      code: "FIELD_REQUIRED",
      message: "consumer is required.",
    });
  });
});
