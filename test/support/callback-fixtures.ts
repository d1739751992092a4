/**
 * Playing TopTechPay's final-status callback against a test server: the
 * parameters the gateway sends, their `control` computed here straight from
 * gateway.md's recipe (SHA-1, lower-case hex, of status + orderid +
 * client_orderid + the control key as text), and GET / form POST / HTTP/2
 * senders that return the status, the JSON answer and the request id.
 *
 * ```ts
 * const params = callbackParams({ client_orderid: init.invoiceId });   // control included
 * const res = await getCallback(s.url, TEST_ENDPOINT_ID, params);
 * expect(res).toMatchObject({ status: 200, json: { received: true, duplicate: false } });
 * ```
 */
import { createHash, randomInt } from "node:crypto";
import http2 from "node:http2";
import { TEST_CONTROL_KEY, TEST_ENDPOINT_ID } from "./test-server.js";

/** Every `control` value a test sent, so the log test can look for each. */
export const sentControls = new Set<string>();

/** The documented control, computed independently of the server. */
export function controlOf(p: Record<string, string>, key = TEST_CONTROL_KEY): string {
  const text = (p.status ?? "") + (p.orderid ?? "") + (p.client_orderid ?? "") + key;
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * A callback's parameters: an approved sale for a fresh gateway order,
 * `overrides` applied (undefined removes one), then `control` over the result
 * unless `overrides` sets it.
 */
export function callbackParams(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const client = overrides.client_orderid ?? `gw-order-${randomInt(1e9, 9e9)}`;
  const base: Record<string, string | undefined> = {
    status: "approved",
    type: "sale",
    orderid: String(randomInt(1e9, 9e9)),
    client_orderid: client,
    merchant_order: client,
    amount: "10.15",
    ...overrides,
  };
  const params = Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined)) as Record<string, string>;
  if (!("control" in overrides)) params.control = controlOf(params);
  if (params.control !== undefined) sentControls.add(params.control);
  return params;
}

/** What a callback request got back. */
export interface CallbackAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field.
  readonly json: any;
  readonly requestId: string;
  readonly headers: Headers;
}

async function answerOf(res: Response): Promise<CallbackAnswer> {
  const text = await res.text();
  return {
    status: res.status,
    json: text === "" ? undefined : JSON.parse(text),
    requestId: res.headers.get("x-request-id") ?? "",
    headers: res.headers,
  };
}

/** GET /callback/{endpointId}?params, as the gateway sends it; `query` given: that exact query string. */
export async function getCallback(
  url: string,
  endpointId: string,
  params: Record<string, string> | string,
): Promise<CallbackAnswer> {
  const query = typeof params === "string" ? params : new URLSearchParams(params).toString();
  return answerOf(await fetch(`${url}/callback/${encodeURIComponent(endpointId)}?${query}`));
}

/**
 * The final-status callback of `invoiceId` (approved unless `overrides` say
 * otherwise) sent as a GET to the test endpoint, as the gateway sends it:
 * its parameters (orderid is the gateway order id the session gets) and what
 * the server answered.
 */
export async function sendFinalStatus(
  url: string,
  invoiceId: string,
  overrides: Record<string, string | undefined> = {},
): Promise<{ params: Record<string, string>; answer: CallbackAnswer }> {
  const params = callbackParams({ client_orderid: invoiceId, ...overrides });
  return { params, answer: await getCallback(url, TEST_ENDPOINT_ID, params) };
}

/** POST /callback/{endpointId} with the params as a form body (or `body` as it is). */
export async function postCallback(
  url: string,
  endpointId: string,
  params: Record<string, string> | string,
  contentType = "application/x-www-form-urlencoded",
  method = "POST",
): Promise<CallbackAnswer> {
  const body = typeof params === "string" ? params : new URLSearchParams(params).toString();
  const res = await fetch(`${url}/callback/${encodeURIComponent(endpointId)}`, {
    method,
    headers: { "content-type": contentType },
    body,
  });
  return answerOf(res);
}

/** The same GET over HTTP/2 (cleartext, prior knowledge). */
export async function getCallbackHttp2(
  url: string,
  endpointId: string,
  params: Record<string, string>,
): Promise<{ status: number; json: unknown }> {
  const session = http2.connect(url);
  try {
    return await new Promise((resolve, reject) => {
      const path = `/callback/${encodeURIComponent(endpointId)}?${new URLSearchParams(params)}`;
      const stream = session.request({ ":method": "GET", ":path": path });
      let status = 0;
      let text = "";
      stream.on("response", (headers) => {
        status = Number(headers[":status"]);
      });
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        text += chunk;
      });
      stream.on("end", () => resolve({ status, json: JSON.parse(text) }));
      stream.on("error", reject);
      stream.end();
    });
  } finally {
    session.close();
  }
}

/** The value of one cp_callbacks_total series in a /metrics scrape. */
export async function callbackCount(url: string, outcome: "stored" | "duplicate" | "unmatched"): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`cp_callbacks_total{outcome="${outcome}"}`));
  return line === undefined ? Number.NaN : Number(line.split(" ").at(-1));
}
