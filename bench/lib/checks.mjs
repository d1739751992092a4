/**
 * The check-sale target's load: every check must bind a session nobody has
 * checked yet (a repeat of a bound check writes nothing), so before each run
 * the harness initiates enough sessions through the server itself (autocannon
 * with a fixed number of documented sales, each answer kept), and the load
 * sends each of them once, as TopTechPay would: `POST /sale/{invoiceId}/check`
 * with the stored nonce and signature and a fresh session token.
 */
import { createHmac, randomBytes } from "node:crypto";
import autocannon from "autocannon";
import { BENCH_ENDPOINT } from "../targets/baseline-work.mjs";
import { SERIAL_NUMBER, saleBody } from "./requests.mjs";

const KEY = Buffer.from(BENCH_ENDPOINT.controlKeyText.replaceAll("-", ""), "hex");
const HEADERS = { "content-type": "application/json" };

/** The spec's checkSignature for a sale without a card reference, computed here, not by the server. */
export function expectedCheckSignature({ serialNumber, nonce, endpointId, invoiceId }) {
  return createHmac("sha1", KEY)
    .update(serialNumber + nonce + endpointId + invoiceId, "utf8")
    .digest("hex")
    .toUpperCase();
}

/** One check of an initiated session: its path and body, with a session token never used before. */
function checkRequest(accessToken, answer, token = randomBytes(12).toString("hex")) {
  // Built once here, while the pool fills, so the load generator only hands it out.
  const body = JSON.stringify({
    consumer: { device: { serialNumber: SERIAL_NUMBER } },
    session: { accessToken, nonce: answer.session.nonce, signature: answer.session.signature, token },
  });
  return { accessToken, answer, token, path: `/sale/${answer.invoiceId}/check`, body };
}

/**
 * Unchecked sessions of one server, each handed out once. `fill(n)` initiates
 * n more; `take()` returns the next one's check, or undefined when none is
 * left. `exhausted` counts the takes that found none.
 */
export function createCheckPool(baseUrl, accessToken, connections) {
  const ready = [];
  // An index, not shift(): the pool holds tens of thousands of checks.
  let taken = 0;
  let exhausted = 0;
  return {
    get size() {
      return ready.length - taken;
    },
    get exhausted() {
      return exhausted;
    },
    /** Initiates `count` sales through the server; resolves with their rate (sessions/s). */
    async fill(count) {
      if (count <= 0) return undefined;
      const started = process.hrtime.bigint();
      let refused = 0;
      await autocannon({
        url: baseUrl,
        connections: Math.min(connections, count),
        pipelining: 1,
        timeout: 10,
        amount: count,
        requests: [
          {
            method: "POST",
            path: "/sale/initiate-sale",
            headers: HEADERS,
            body: JSON.stringify(saleBody(accessToken)),
            onResponse: (status, body) => {
              if (status === 200) ready.push(checkRequest(accessToken, JSON.parse(body)));
              else refused++;
            },
          },
        ],
      });
      if (refused > 0) throw new Error(`${refused} of ${count} initiates for the check pool were refused`);
      return count / (Number(process.hrtime.bigint() - started) / 1e9);
    },
    take() {
      if (taken === ready.length) {
        exhausted++;
        return undefined;
      }
      return ready[taken++];
    },
  };
}

/**
 * Before the load: one check of a fresh session must answer 200 with the
 * documented body and a checkSignature that verifies here, and a second token
 * for the same session must then be refused (409), which shows the check bound
 * the session: the load's checks write.
 */
export async function checkCheck(baseUrl, pool) {
  const one = pool.take();
  if (!one) throw new Error("check sanity: no initiated session");
  const res = await fetch(baseUrl + one.path, { method: "POST", headers: HEADERS, body: one.body });
  const text = await res.text();
  let answer;
  try {
    answer = JSON.parse(text);
  } catch {
    answer = undefined;
  }
  const want = expectedCheckSignature({
    serialNumber: SERIAL_NUMBER,
    nonce: one.answer.session.nonce,
    endpointId: one.answer.endpointId,
    invoiceId: one.answer.invoiceId,
  });
  if (
    res.status !== 200 ||
    answer?.invoiceId !== one.answer.invoiceId ||
    answer?.session?.checkSignature !== want ||
    answer?.session?.nonce !== one.answer.session.nonce ||
    answer?.session?.token !== one.token
  ) {
    throw new Error(`check sanity request to ${one.path} answered ${res.status}: ${text.slice(0, 300)}`);
  }
  const second = checkRequest(one.accessToken, one.answer);
  const refused = await fetch(baseUrl + second.path, { method: "POST", headers: HEADERS, body: second.body });
  const refusedText = await refused.text();
  if (refused.status !== 409) {
    throw new Error(`check sanity: a second token answered ${refused.status}, not 409: ${refusedText.slice(0, 300)}`);
  }
  return one;
}

/**
 * Runs autocannon for `duration` seconds, each request the check of the next
 * unchecked session. Should the pool run dry, the request sent instead is a
 * second token for an already checked session (`spent`), which the server
 * refuses (409): counted as an error, never as a served check.
 */
export function checkRequests(pool, spent) {
  const refusal = checkRequest(spent.accessToken, spent.answer);
  return [
    {
      method: "POST",
      headers: HEADERS,
      setupRequest: (req) => {
        const next = pool.take() ?? refusal;
        return { ...req, path: next.path, body: next.body };
      },
    },
  ];
}
