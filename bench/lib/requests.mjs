/**
 * What every target is sent: one documented sale, as JSON for the HTTP/1.1
 * targets and as a 5-byte-framed protobuf message for gRPC; how a token is
 * obtained from this server; and the one-request checks run before any load,
 * because h2load counts a gRPC error (HTTP 200, grpc-status != 0) as a 2xx.
 */
import { createHmac } from "node:crypto";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { InitiateService, SaleRequestSchema } from "../../dist/gen/toptechpay/initiate/v1/initiate_pb.js";
import { BENCH_ENDPOINT } from "../targets/baseline-work.mjs";
import { hasSession } from "./stored-rows.mjs";

export const SERIAL_NUMBER = "SN-BENCH-000001";
/** Used while this server issues no tokens (documented form only: 32-128 chars). */
export const INVENTED_TOKEN = "0123456789abcdef0123456789abcdef";
export const GRPC_PATH = "/toptechpay.initiate.v1.InitiateService/Sale";

/** The documented sale body (its proto3 JSON is the same object). */
export function saleBody(accessToken) {
  return {
    consumer: {
      device: { serialNumber: SERIAL_NUMBER, imei: "356938035643809" },
      ipAddresses: ["192.0.2.10"],
    },
    location: { lat: 48.1486, lng: 17.1077 },
    session: { accessToken },
    transaction: { amountCentis: 1015, currency: "EUR" },
  };
}

/** The sale as a gRPC message body: flag 0, 4-byte big-endian length, protobuf. */
export function grpcFrame(accessToken) {
  const b = saleBody(accessToken);
  const message = create(SaleRequestSchema, { ...b, transaction: { amountCentis: 1015n, currency: "EUR" } });
  const bytes = toBinary(SaleRequestSchema, message);
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  frame.set(bytes, 5);
  return frame;
}

/**
 * Asks this server for an access token for the bench device. Resolves with the
 * token, or with undefined when the server offers no open issuance (404/405),
 * in which case the invented token is used.
 */
export async function obtainAccessToken(baseUrl) {
  const res = await fetch(`${baseUrl}/auth/access-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ consumer: { device: { serialNumber: SERIAL_NUMBER } } }),
  });
  const text = await res.text();
  if (res.status === 404 || res.status === 405) return undefined;
  if (!res.ok) throw new Error(`POST /auth/access-token answered ${res.status}: ${text.slice(0, 200)}`);
  const token = JSON.parse(text)?.session?.accessToken;
  if (typeof token !== "string") throw new Error(`POST /auth/access-token gave no session.accessToken: ${text}`);
  return token;
}

const KEY = Buffer.from(BENCH_ENDPOINT.controlKeyText.replaceAll("-", ""), "hex");

/**
 * The initiate answer's signature the spec prescribes for the bench's sale,
 * computed here with node:crypto, not by the target: HMAC-SHA1 over
 * accessToken + serialNumber + endpointId + nonce + invoiceId + amountCentis + currency.
 */
function expectedSaleSignature(accessToken, answer) {
  const { endpointId, invoiceId, session } = answer;
  const message = `${accessToken}${SERIAL_NUMBER}${endpointId}${session.nonce}${invoiceId}1015EUR`;
  return createHmac("sha1", KEY).update(message, "utf8").digest("hex").toUpperCase();
}

/**
 * Why an initiate answer fails the sanity check, or undefined when it passes:
 * the signature must verify here, and a target with a store (`database`, its
 * SQLite file) must hold the session's row once it has answered.
 */
function saleProblem(answer, accessToken, database) {
  if (typeof answer?.invoiceId !== "string" || typeof answer?.session?.nonce !== "string") return "no session";
  if (answer.session.signature !== expectedSaleSignature(accessToken, answer)) return "the signature does not verify";
  if (database && !hasSession(database, answer.invoiceId)) return `invoice ${answer.invoiceId} is not in ${database}`;
  return undefined;
}

/** One JSON request before the load: a 200 with a signed session, stored when the target has a store. */
export async function checkJson(url, headers, body, accessToken, database) {
  const res = await fetch(url, { method: "POST", headers, body });
  const text = await res.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const problem = res.status === 200 ? saleProblem(answer, accessToken, database) : `status ${res.status}`;
  if (problem) throw new Error(`sanity request to ${url}: ${problem}: ${text.slice(0, 300)}`);
}

/**
 * Two gRPC checks before the load: a connect-node gRPC client call (the
 * service really signs a sale), then the exact bytes h2load will send, read
 * back to the grpc-status trailer.
 */
export async function checkGrpc(baseUrl, accessToken, frame, database) {
  const transport = createGrpcTransport({ baseUrl });
  const client = createClient(InitiateService, transport);
  const b = saleBody(accessToken);
  const answer = await client.sale({ ...b, transaction: { amountCentis: 1015n, currency: "EUR" } });
  const problem = saleProblem(answer, accessToken, database);
  if (problem) throw new Error(`gRPC sanity call: ${problem}: ${JSON.stringify(answer)}`);
  const status = await rawGrpcStatus(baseUrl, frame);
  if (status.http !== 200 || status.grpc !== "0") {
    throw new Error(`gRPC body check: HTTP ${status.http}, grpc-status ${status.grpc} (${status.message ?? ""})`);
  }
}

function rawGrpcStatus(baseUrl, frame) {
  return new Promise((resolve, reject) => {
    const session = http2.connect(baseUrl);
    session.once("error", reject);
    const stream = session.request({
      ":method": "POST",
      ":path": GRPC_PATH,
      "content-type": "application/grpc",
      te: "trailers",
    });
    const result = { http: 0, grpc: undefined, message: undefined };
    stream.once("response", (headers) => {
      result.http = headers[":status"];
      // A trailers-only answer puts grpc-status in the headers.
      if (headers["grpc-status"] !== undefined) result.grpc = String(headers["grpc-status"]);
    });
    stream.once("trailers", (trailers) => {
      result.grpc = String(trailers["grpc-status"]);
      result.message = trailers["grpc-message"];
    });
    stream.resume();
    stream.once("close", () => {
      session.close();
      resolve(result);
    });
    stream.once("error", reject);
    stream.end(frame);
  });
}
