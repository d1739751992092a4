/**
 * The refusals connect-node would answer in its own words, and unknown
 * methods: each carries its catalogue ErrorDetail in the caller's protocol,
 * is logged as an error with its code, and is counted under the method's
 * operation label in /metrics. Raw node:http2 and node:http, so what is on
 * the wire is what is checked.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeErrorDetail, decodeStatusDetails } from "./support/grpc-js-client.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

const SALE = "/toptechpay.initiate.v1.InitiateService/Sale";
const ISSUE = "/toptechpay.auth.v1.AuthService/IssueAccessToken";

interface Raw {
  status: number;
  flags: number;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

async function h2(headers: http2.OutgoingHttpHeaders, body?: Buffer): Promise<Raw> {
  const session = http2.connect(s.url);
  try {
    return await new Promise<Raw>((resolve, reject) => {
      const stream = session.request({ ":method": "POST", ...headers });
      const out: Raw = { status: 0, flags: 0, headers: {}, trailers: {}, body: Buffer.alloc(0) };
      const chunks: Buffer[] = [];
      stream.on("response", (h, f) => {
        out.headers = h;
        out.flags = f;
        out.status = Number(h[":status"]);
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("trailers", (t) => {
        out.trailers = t;
      });
      stream.on("error", reject);
      stream.on("close", () => resolve({ ...out, body: Buffer.concat(chunks) }));
      stream.end(body);
    });
  } finally {
    session.close();
  }
}

/** The ErrorDetail code of a gRPC or gRPC-Web answer in its headers (Trailers-Only). */
function grpcDetail(r: Raw): { status: string | undefined; code: string | undefined } {
  const bin = r.headers["grpc-status-details-bin"];
  return {
    status: r.headers["grpc-status"] as string | undefined,
    code: bin ? decodeStatusDetails(Buffer.from(String(bin), "base64")).details[0]?.code : undefined,
  };
}

function connectDetail(r: Raw): { code: string; detail: string | undefined } {
  const json = JSON.parse(r.body.toString("utf8")) as { code: string; details?: { type: string; value: string }[] };
  const d = json.details?.[0];
  if (d) expect(d.type).toBe("toptechpay.initiate.v1.ErrorDetail");
  return { code: json.code, detail: d ? decodeErrorDetail(Buffer.from(d.value, "base64")).code : undefined };
}

const GRPC = { "content-type": "application/grpc", te: "trailers" };
const EMPTY_MESSAGE = Buffer.from([0, 0, 0, 0, 0]);

describe("gRPC refusals are Trailers-Only with a catalogue ErrorDetail", () => {
  it.each([
    ["malformed grpc-timeout", { ...GRPC, "grpc-timeout": "soon" }, EMPTY_MESSAGE, "3", "TIMEOUT_MALFORMED"],
    ["zstd request", { ...GRPC, "grpc-encoding": "zstd" }, EMPTY_MESSAGE, "12", "ENCODING_UNSUPPORTED"],
    ["deflate request", { ...GRPC, "grpc-encoding": "deflate" }, EMPTY_MESSAGE, "12", "ENCODING_UNSUPPORTED"],
    ["broken framing", GRPC, Buffer.from([0, 0, 0, 0, 7, 1]), "3", "BODY_MALFORMED"],
    ["no message at all", GRPC, Buffer.alloc(0), "3", "BODY_EMPTY"],
    [
      "grpc+xml content type",
      { ...GRPC, "content-type": "application/grpc+xml" },
      EMPTY_MESSAGE,
      "3",
      "CONTENT_TYPE_UNSUPPORTED",
    ],
  ] as const)("%s", async (_name, headers, body, status, code) => {
    const r = await h2({ ":path": SALE, ...headers }, body);
    expect(r.status).toBe(200);
    expect(r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBeTruthy();
    expect(r.body.length).toBe(0);
    expect(grpcDetail(r)).toEqual({ status, code });
  });

  it("AuthService: the same for a malformed timeout and broken framing (connect's path)", async () => {
    for (const [headers, body, code] of [
      [{ ...GRPC, "grpc-timeout": "1X" }, EMPTY_MESSAGE, "TIMEOUT_MALFORMED"],
      [GRPC, Buffer.from([0, 0, 0, 0, 9]), "BODY_MALFORMED"],
    ] as const) {
      const r = await h2({ ":path": ISSUE, ...headers }, body);
      expect(r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBeTruthy();
      expect(grpcDetail(r).code).toBe(code);
    }
  });

  it("gRPC-Web broken framing: the error in the caller's protocol with its ErrorDetail", async () => {
    const r = await h2({ ":path": SALE, "content-type": "application/grpc-web+proto" }, Buffer.from([0, 0, 0, 0, 8]));
    expect(r.status).toBe(200);
    // connect-node writes a gRPC-Web error as a trailer frame in the body.
    const text = r.body.subarray(5).toString("latin1");
    expect(text).toMatch(/grpc-status: ?3/);
    const bin = /grpc-status-details-bin: ?(\S+)/.exec(text)?.[1];
    expect(decodeStatusDetails(Buffer.from(String(bin), "base64")).details[0]?.code).toBe("BODY_MALFORMED");
  });
});

describe("unknown methods answer UNIMPLEMENTED in the caller's protocol", () => {
  for (const path of ["/toptechpay.initiate.v1.InitiateService/Nope", "/no.such.Service/X"]) {
    it(`gRPC and gRPC-Web ${path}`, async () => {
      for (const type of ["application/grpc", "application/grpc-web+proto"]) {
        const r = await h2({ ":path": path, "content-type": type, te: "trailers" }, EMPTY_MESSAGE);
        expect(r.flags & http2.constants.NGHTTP2_FLAG_END_STREAM).toBeTruthy();
        expect(grpcDetail(r)).toEqual({ status: "12", code: "ROUTE_NOT_FOUND" });
      }
    });
    it(`Connect ${path}: 404 with the error JSON`, async () => {
      const r = await h2({ ":path": path, "content-type": "application/json" }, Buffer.from("{}"));
      expect(r.status).toBe(404);
      expect(connectDetail(r)).toEqual({ code: "unimplemented", detail: "ROUTE_NOT_FOUND" });
    });
  }
});

describe("Connect refusals", () => {
  it("415 for an unknown content type, 405 for a GET, both with ErrorDetail", async () => {
    const type = await h2({ ":path": SALE, "content-type": "text/plain" }, Buffer.from("x"));
    expect(type.status).toBe(415);
    expect(connectDetail(type)).toEqual({ code: "invalid_argument", detail: "CONTENT_TYPE_UNSUPPORTED" });
    const get = await new Promise<{ status: number; allow: string | undefined; body: string }>((resolve, reject) => {
      http
        .get(`${s.url}${SALE}?encoding=json&message={}`, (res) => {
          let body = "";
          res.on("data", (c) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
        })
        .on("error", reject);
    });
    expect(get.status).toBe(405);
    expect(get.allow).toBe("POST");
    expect(JSON.parse(get.body).code).toBe("unimplemented");
  });

  it("gzip-labelled garbage and a zstd body, each with its code", async () => {
    const zstd = await h2(
      { ":path": SALE, "content-type": "application/json", "content-encoding": "zstd" },
      Buffer.from("{}"),
    );
    expect(connectDetail(zstd)).toEqual({ code: "unimplemented", detail: "ENCODING_UNSUPPORTED" });
    const gz = await h2(
      { ":path": SALE, "content-type": "application/json", "content-encoding": "gzip" },
      Buffer.from("{}"),
    );
    expect(connectDetail(gz)).toEqual({ code: "invalid_argument", detail: "BODY_MALFORMED" });
  });
});

describe("a refusal in the log and in /metrics", () => {
  it("is logged as an error with its code and counted under the operation's label", async () => {
    const r = await h2({ ":path": SALE, ...GRPC, "grpc-timeout": "later" }, EMPTY_MESSAGE);
    const line = await s.logLineFor(String(r.headers["x-request-id"]));
    expect(line).toMatchObject({
      outcome: "error",
      code: "TIMEOUT_MALFORMED",
      cause: "INVALID_REQUEST",
      operation: "sale",
    });
    const a = await h2({ ":path": ISSUE, ...GRPC, "grpc-encoding": "zstd" }, EMPTY_MESSAGE);
    expect(await s.logLineFor(String(a.headers["x-request-id"]))).toMatchObject({
      outcome: "error",
      code: "ENCODING_UNSUPPORTED",
    });
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    expect(metrics).toMatch(
      /cp_requests_total\{operation="sale",protocol="grpc",outcome="error",cause="INVALID_REQUEST",code="TIMEOUT_MALFORMED"\} [1-9]/,
    );
    expect(metrics).toMatch(
      /cp_requests_total\{operation="AuthService\/IssueAccessToken",protocol="grpc",outcome="error",cause="INVALID_REQUEST",code="ENCODING_UNSUPPORTED"\} [1-9]/,
    );
  });
});
