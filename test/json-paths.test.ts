/**
 * The documented JSON paths end to end: a real server on an ephemeral port,
 * called over HTTP/1.1 with fetch and over HTTP/2 with prior knowledge on the
 * same port. Success answers verify; every kind of bad input gets the
 * documented error body, its status, an x-request-id, and a log line.
 */
import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, expectSignedAnswer, SERIAL, saleBody, verificationBody } from "./support/initiate-fixtures.js";
import { startTestServer, type TestServer } from "./support/test-server.js";

const SALE = "/sale/initiate-sale";
const VERIFICATION = "/verification/initiate-verification";
const ERROR_BODY = {
  error: { cause: expect.any(String), code: expect.any(String), message: expect.any(String) },
};

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
});
afterAll(async () => {
  await s?.close();
});

function post(path: string, body: string | undefined, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

/** Checks the documented error answer and returns its body. */
async function expectError(res: Response, status: number, code: string) {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  expect(res.headers.get("x-request-id")).toBeTruthy();
  // No stack trace or internals ever reach a caller.
  expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
  const body = JSON.parse(text);
  expect(body).toEqual(ERROR_BODY);
  expect(Object.keys(body.error).sort()).toEqual(["cause", "code", "message"]);
  expect(body.error.code).toBe(code);
  return body.error as { cause: string; code: string; message: string };
}

describe("JSON paths over HTTP/1.1", () => {
  it("starts a sale with the documented answer, signed with the endpoint's control key", async () => {
    const res = await post(SALE, JSON.stringify(saleBody(s.accessToken)));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const answer = (await res.json()) as Answer;
    expect(Object.keys(answer).sort()).toEqual(["endpointId", "invoiceId", "session"]);
    expect(Object.keys(answer.session).sort()).toEqual(["nonce", "signature"]);
    expectSignedAnswer(answer, { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
  });

  it("starts a verification (no amount in the signature)", async () => {
    const res = await post(VERIFICATION, JSON.stringify(verificationBody(s.accessToken)));
    expect(res.status).toBe(200);
    expectSignedAnswer((await res.json()) as Answer, { accessToken: s.accessToken, currency: "USD" });
  });

  it("gives a new invoiceId and nonce to every session", async () => {
    const answers = await Promise.all(
      Array.from(
        { length: 5 },
        async () => (await post(SALE, JSON.stringify(saleBody(s.accessToken)))).json() as Promise<Answer>,
      ),
    );
    expect(new Set(answers.map((a) => a.invoiceId)).size).toBe(5);
    expect(new Set(answers.map((a) => a.session.nonce)).size).toBe(5);
  });

  it("accepts amountCentis as an integer string and a charset on the content type", async () => {
    const body = saleBody(s.accessToken);
    (body.transaction as Record<string, unknown>).amountCentis = "250";
    const res = await post(SALE, JSON.stringify(body), { "content-type": "application/json; charset=utf-8" });
    expect(res.status).toBe(200);
    expectSignedAnswer((await res.json()) as Answer, {
      accessToken: s.accessToken,
      amountCentis: 250,
      currency: "EUR",
    });
  });

  it("ignores unknown fields at every level", async () => {
    const body = saleBody(s.accessToken) as Record<string, Record<string, unknown>>;
    body.extra = { anything: [1, 2] };
    (body.consumer as Record<string, unknown>).nickname = "x";
    (body.consumer?.device as Record<string, unknown>).colour = "blue";
    const res = await post(SALE, JSON.stringify(body));
    expect(res.status).toBe(200);
    expectSignedAnswer((await res.json()) as Answer, {
      accessToken: s.accessToken,
      amountCentis: 1015,
      currency: "EUR",
    });
  });

  const badBodies: [string, string | undefined, number, string][] = [
    ["malformed JSON", '{"consumer": ', 400, "BODY_NOT_JSON"],
    ["invalid UTF-8", "\u0000", 400, "BODY_NOT_JSON"],
    ["a JSON array", "[1, 2]", 400, "BODY_NOT_OBJECT"],
    ["a JSON string", '"sale"', 400, "BODY_NOT_OBJECT"],
    ["a JSON number", "42", 400, "BODY_NOT_OBJECT"],
    ["JSON null", "null", 400, "BODY_NOT_OBJECT"],
    ["an empty body", "", 400, "BODY_EMPTY"],
    ["an empty object", "{}", 400, "FIELD_REQUIRED"],
  ];
  for (const [what, body, status, code] of badBodies) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      // "invalid UTF-8" is sent as raw bytes, which a JS string cannot hold.
      const raw = what === "invalid UTF-8" ? new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) : body;
      const res = await fetch(`${s.url}${SALE}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: raw,
      });
      const error = await expectError(res, status, code);
      expect(error.cause).toBe("INVALID_REQUEST");
    });
  }

  it("never quotes the body in a JSON syntax error (it may hold an access token)", async () => {
    // V8's own message would say `"secret-token-..." is not valid JSON`.
    for (const body of ["secret-token-0123456789abcdef0123456789", '{"session": {"accessToken": secret-token-0123']) {
      const error = await expectError(await post(SALE, body), 400, "BODY_NOT_JSON");
      expect(error.message).not.toContain("secret-tok");
      expect(error.message).toMatch(/^The request body is not valid JSON( \(at position \d+\))?\.$/);
    }
  });

  it("names the field and the rule for a field error", async () => {
    const body = saleBody(s.accessToken);
    (body.transaction as Record<string, unknown>).amountCentis = 10.5;
    const error = await expectError(await post(SALE, JSON.stringify(body)), 400, "FIELD_FORMAT");
    expect(error.message).toContain("transaction.amountCentis");
    expect(error.message).toMatch(/whole number/);
  });

  it("answers a currency no endpoint accepts with 403 FILTERED / CURRENCY_NOT_ACCEPTED", async () => {
    const body = saleBody(s.accessToken);
    (body.transaction as Record<string, unknown>).currency = "GBP";
    const error = await expectError(await post(SALE, JSON.stringify(body)), 403, "CURRENCY_NOT_ACCEPTED");
    expect(error.cause).toBe("FILTERED");
  });

  it("answers a wrong content type with 415", async () => {
    const res = await post(SALE, JSON.stringify(saleBody(s.accessToken)), { "content-type": "text/plain" });
    await expectError(res, 415, "CONTENT_TYPE_UNSUPPORTED");
  });

  it("answers a missing content type with 415", async () => {
    // A raw request: fetch adds text/plain to a string body by itself.
    const { status, body } = await rawRequest("POST", SALE, JSON.stringify(saleBody(s.accessToken)), {});
    expect(status).toBe(415);
    expect(JSON.parse(body).error.code).toBe("CONTENT_TYPE_UNSUPPORTED");
  });

  it("answers a body over 64 KiB with 413 that the client really receives", async () => {
    // Just over the limit, and far over it (the server must answer, not reset).
    for (const size of [65 * 1024, 8 * 1024 * 1024]) {
      const big = JSON.stringify({ ...saleBody(s.accessToken), padding: "x".repeat(size) });
      await expectError(await post(SALE, big), 413, "BODY_TOO_LARGE");
    }
    // Also without Content-Length (chunked), and far over the limit.
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"padding":"'));
        for (let i = 0; i < 32; i++) c.enqueue(chunk);
        c.enqueue(new TextEncoder().encode('"}'));
        c.close();
      },
    });
    const res = await fetch(`${s.url}${SALE}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    await expectError(res, 413, "BODY_TOO_LARGE");
    // The server still serves the next request.
    expect((await post(SALE, JSON.stringify(saleBody(s.accessToken)))).status).toBe(200);
  });

  for (const method of ["GET", "PUT", "DELETE"]) {
    it(`answers ${method} on the JSON paths with 405 and Allow: POST`, async () => {
      for (const path of [SALE, VERIFICATION]) {
        const res = await fetch(`${s.url}${path}`, {
          method,
          ...(method === "PUT" ? { body: "{}", headers: { "content-type": "application/json" } } : {}),
        });
        expect(res.headers.get("allow")).toBe("POST");
        await expectError(res, 405, "METHOD_NOT_ALLOWED");
      }
    });
  }

  it("answers an unknown path with 404 and the documented body", async () => {
    await expectError(await post("/sale/initiate-sales", "{}"), 404, "ROUTE_NOT_FOUND");
    await expectError(await fetch(`${s.url}/`), 404, "ROUTE_NOT_FOUND");
  });

  it("puts an x-request-id on every answer and the same id in that request's log line", async () => {
    const ok = await post(SALE, JSON.stringify(saleBody(s.accessToken)));
    const bad = await post(SALE, "[]");
    for (const [res, outcome] of [
      [ok, "ok"],
      [bad, "error"],
    ] as const) {
      const id = res.headers.get("x-request-id");
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const line = await s.logLineFor(id as string);
      expect(line).toMatchObject({ requestId: id, protocol: "json", path: SALE, status: res.status, outcome });
    }
    const line = await s.logLineFor(bad.headers.get("x-request-id") as string);
    expect(line?.code).toBe("BODY_NOT_OBJECT");
    // The access token never reaches the log.
    expect(JSON.stringify(s.logLines)).not.toContain(s.accessToken);
  });

  it("echoes a caller's safe x-request-id and replaces an unsafe one", async () => {
    const mine = "trace-42.abc:7";
    const res = await post(SALE, JSON.stringify(saleBody(s.accessToken)), { "x-request-id": mine });
    expect(res.headers.get("x-request-id")).toBe(mine);
    expect(await s.logLineFor(mine)).toMatchObject({ requestId: mine, status: 200 });

    const unsafe = "<script>alert(1)</script>";
    const other = await post(SALE, JSON.stringify(saleBody(s.accessToken)), { "x-request-id": unsafe });
    expect(other.headers.get("x-request-id")).not.toBe(unsafe);
    expect(other.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

/** One HTTP/1.1 request without fetch's defaults. */
function rawRequest(
  method: string,
  path: string,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${s.url}${path}`, { method, headers }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        text += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("JSON paths over HTTP/2 with prior knowledge, on the same port", () => {
  let session: http2.ClientHttp2Session;
  beforeAll(async () => {
    session = http2.connect(s.url);
    await new Promise<void>((resolve, reject) => {
      session.once("connect", () => resolve());
      session.once("error", reject);
    });
  });
  afterAll(() => session?.close());

  function h2(
    path: string,
    body: string | Buffer | undefined,
    headers: http2.OutgoingHttpHeaders = { "content-type": "application/json" },
    method = "POST",
  ): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ":method": method, ":path": path, ...headers });
      let responseHeaders: http2.IncomingHttpHeaders = {};
      let text = "";
      stream.setEncoding("utf8");
      stream.on("response", (h) => {
        responseHeaders = h;
      });
      stream.on("data", (c: string) => {
        text += c;
      });
      stream.on("end", () =>
        resolve({ status: Number(responseHeaders[":status"]), headers: responseHeaders, body: text }),
      );
      stream.on("error", reject);
      stream.end(body);
    });
  }

  it("starts a sale and a verification", async () => {
    const sale = await h2(SALE, JSON.stringify(saleBody(s.accessToken)));
    expect(sale.status).toBe(200);
    expect(sale.headers["x-request-id"]).toBeTruthy();
    expectSignedAnswer(JSON.parse(sale.body), { accessToken: s.accessToken, amountCentis: 1015, currency: "EUR" });
    const verification = await h2(VERIFICATION, JSON.stringify(verificationBody(s.accessToken)));
    expect(verification.status).toBe(200);
    expectSignedAnswer(JSON.parse(verification.body), { accessToken: s.accessToken, currency: "USD" });
    const line = await s.logLineFor(String(sale.headers["x-request-id"]));
    expect(line).toMatchObject({ protocol: "json", status: 200, outcome: "ok" });
  });

  const cases: [string, string | Buffer | undefined, http2.OutgoingHttpHeaders, string, number, string][] = [
    ["malformed JSON", "{", { "content-type": "application/json" }, "POST", 400, "BODY_NOT_JSON"],
    ["an array", "[]", { "content-type": "application/json" }, "POST", 400, "BODY_NOT_OBJECT"],
    ["an empty body", undefined, { "content-type": "application/json" }, "POST", 400, "BODY_EMPTY"],
    ["a wrong content type", "{}", { "content-type": "text/xml" }, "POST", 415, "CONTENT_TYPE_UNSUPPORTED"],
    ["no content type", "{}", {}, "POST", 415, "CONTENT_TYPE_UNSUPPORTED"],
    ["GET", undefined, {}, "GET", 405, "METHOD_NOT_ALLOWED"],
    [
      "a body over 64 KiB",
      Buffer.alloc(200 * 1024, 0x20),
      { "content-type": "application/json" },
      "POST",
      413,
      "BODY_TOO_LARGE",
    ],
  ];
  for (const [what, body, headers, method, status, code] of cases) {
    it(`answers ${what} with ${status} ${code}`, async () => {
      const res = await h2(SALE, body, headers, method);
      expect(res.status, res.body).toBe(status);
      expect(res.headers["x-request-id"]).toBeTruthy();
      expect(JSON.parse(res.body)).toEqual(ERROR_BODY);
      expect(JSON.parse(res.body).error.code).toBe(code);
      if (status === 405) expect(res.headers.allow).toBe("POST");
    });
  }

  it("keeps the session usable after errors", async () => {
    const res = await h2(SALE, JSON.stringify(saleBody(s.accessToken)));
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).endpointId).toBeTruthy();
    expect(SERIAL).toBe("SN-000001");
  });
});

describe("a caller that goes away mid-body", () => {
  it("is logged as aborted over HTTP/1.1, with no status or error code, and nothing is answered", async () => {
    const id = "abort-http1-json";
    await new Promise<void>((resolve) => {
      const req = http.request(`${s.url}/sale/initiate-sale`, {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": 100, "x-request-id": id },
      });
      req.on("error", () => resolve());
      req.write('{"consumer":');
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 50);
    });
    const line = await s.logLineFor(id);
    expect(line).toMatchObject({ requestId: id, outcome: "aborted" });
    expect(line?.code).toBeUndefined();
    expect(line?.status).toBeUndefined();
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });

  it("is logged as aborted over HTTP/2 when the caller cancels its stream, with no status or error code", async () => {
    const id = "abort-http2-json";
    const session = http2.connect(s.url);
    try {
      await new Promise<void>((resolve) => {
        const req = session.request({
          ":method": "POST",
          ":path": "/sale/initiate-sale",
          "content-type": "application/json",
          "x-request-id": id,
        });
        req.on("error", () => resolve());
        req.on("close", () => resolve());
        req.write('{"consumer":');
        setTimeout(() => req.close(http2.constants.NGHTTP2_CANCEL), 50);
      });
      const line = await s.logLineFor(id);
      expect(line).toMatchObject({ requestId: id, outcome: "aborted" });
      expect(line?.code).toBeUndefined();
      expect(line?.status).toBeUndefined();
    } finally {
      session.close();
    }
    expect((await fetch(`${s.url}/healthz`)).status).toBe(200);
  });
});
