/**
 * GatewayService's SaleNotification and VerificationNotification, and the
 * repeat sale's CheckSale, as internal callers see them: a stock
 * @grpc/grpc-js client built from the repo's .proto files, Connect's JSON
 * form by plain fetch, and the JSON paths. Every transport stores the same
 * card, answers the same signed message, and refuses with the same
 * ErrorDetail, storing nothing.
 */
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { ErrorCode } from "../src/core/error-catalogue.js";
import type { Operation } from "../src/core/initiate-request.js";
import {
  type CheckBody,
  cardsOf,
  checkedSession,
  expectedNotificationSignature,
  expectNothingBound,
  gatewayToken,
  type Initiated,
  initiate,
  notificationBody,
  postCheck,
  postNotification,
  repeatCheckBody,
  repeatSaleAnswer,
  serverCardId,
} from "./support/gateway-fixtures.js";
import {
  connectCall,
  expectRefused,
  grpcOutcome,
  type Outcome,
  TRANSPORTS,
  type Transport,
} from "./support/gateway-transports.js";
import { gatewayClientsForFile, grpcJsGatewayClients } from "./support/grpc-js-client.js";
import { serverForFile, startTestServer } from "./support/test-server.js";

const s = await serverForFile();
const c = gatewayClientsForFile(s.port);

const METHOD: Record<Operation, string> = { sale: "SaleNotification", verification: "VerificationNotification" };
const SERVICE = "/toptechpay.gateway.v1.GatewayService";

/** A notification over one transport; `invoiceId` is the path form's (a field over RPC). */
async function notify(via: Transport, operation: Operation, body: CheckBody, invoiceId?: string): Promise<Outcome> {
  if (via === "json") {
    const res = await postNotification(s.url, operation, body, invoiceId);
    if (res.status === 200) return { ok: true, answer: res.json };
    return { ok: false, ...res.json.error, transport: "json" };
  }
  const message = invoiceId === undefined ? body : { invoiceId, ...body };
  if (via === "grpc") return grpcOutcome(await c.call(c.gateway, METHOD[operation], message));
  return connectCall(s.url, `${SERVICE}/${METHOD[operation]}`, message);
}

/** A check sale over one transport. */
async function checkSale(via: Transport, invoiceId: string, body: CheckBody): Promise<Outcome> {
  if (via === "json") {
    const res = await postCheck(s.url, "sale", invoiceId, body);
    if (res.status === 200) return { ok: true, answer: res.json };
    return { ok: false, ...res.json.error, transport: "json" };
  }
  const message = { invoiceId, ...body };
  if (via === "grpc") return grpcOutcome(await c.call(c.gateway, "CheckSale", message));
  return connectCall(s.url, `${SERVICE}/CheckSale`, message);
}

function expectAnswer(out: Outcome, init: Initiated, token: string): void {
  expect(out.ok, JSON.stringify(out)).toBe(true);
  if (!out.ok) return;
  expect(out.answer).toEqual({
    invoiceId: init.invoiceId,
    session: { checkSignature: expectedNotificationSignature(init), nonce: init.nonce, token },
  });
}

describe("SaleNotification and VerificationNotification, and the JSON paths", () => {
  for (const via of TRANSPORTS) {
    for (const operation of ["sale", "verification"] as const) {
      it(`${via}: ${METHOD[operation]} stores the card once and answers signed`, async () => {
        const { init, token } = await checkedSession(s, operation);
        // int64 fields: a JSON number on the JSON paths, proto3 JSON's string over Connect, a string over grpc-js.
        const unique = via === "json" ? 4_000_000_001 : "9007199254740993";
        const card = { serverCardId: serverCardId(), uniqueReferenceCardId: unique, bin: 411111 };
        expectAnswer(await notify(via, operation, notificationBody(init, token, card)), init, token);
        const [stored] = await cardsOf(s, init.serialNumber);
        expect(stored).toMatchObject({
          serverCardId: card.serverCardId,
          uniqueReferenceCardId: String(unique),
          bin: 411111,
          operation,
          invoiceId: init.invoiceId,
        });
        // Redelivered over every transport, path form included: the same card.
        for (const other of TRANSPORTS) {
          expectAnswer(
            await notify(other, operation, notificationBody(init, token, card), init.invoiceId),
            init,
            token,
          );
        }
        expect(await cardsOf(s, init.serialNumber)).toEqual([stored]);
      });
    }
  }

  interface Case {
    readonly code: ErrorCode;
    /** The operation to notify as, the body, and the path form's invoice id. */
    spoil(init: Initiated, token: string): Promise<{ operation: Operation; body: CheckBody; invoiceId?: string }>;
  }
  const card = () => ({ serverCardId: serverCardId() });
  const cases: Record<string, Case> = {
    "an unknown session token": {
      code: "GATEWAY_TOKEN_UNKNOWN",
      spoil: async (init) => ({ operation: "sale", body: notificationBody(init, gatewayToken(), card()) }),
    },
    "a sale's token on VerificationNotification": {
      code: "GATEWAY_TOKEN_UNKNOWN",
      spoil: async (init, token) => ({ operation: "verification", body: notificationBody(init, token) }),
    },
    "another invoice in invoice_id": {
      code: "GATEWAY_TOKEN_UNKNOWN",
      spoil: async (init, token) => ({
        operation: "sale",
        body: notificationBody(init, token, card()),
        invoiceId: (await initiate(s, "sale")).invoiceId,
      }),
    },
    "a wrong serial number": {
      code: "SESSION_MISMATCH",
      spoil: async (init, token) => ({
        operation: "sale",
        body: notificationBody({ ...init, serialNumber: "SN-ELSEWHERE" }, token, card()),
      }),
    },
    "a wrong access token": {
      code: "SESSION_MISMATCH",
      spoil: async (init, token) => ({
        operation: "sale",
        body: notificationBody({ ...init, accessToken: "C".repeat(48) }, token, card()),
      }),
    },
    "an empty serverCardId": {
      code: "FIELD_LENGTH",
      spoil: async (init, token) => ({ operation: "sale", body: notificationBody(init, token, { serverCardId: "" }) }),
    },
    "a missing session.accessToken": {
      code: "FIELD_REQUIRED",
      spoil: async (init, token) => {
        const body = notificationBody(init, token, card());
        delete body.session.accessToken;
        return { operation: "sale", body };
      },
    },
  };
  for (const [name, k] of Object.entries(cases)) {
    it(`${name}: ${k.code}, the same ErrorDetail on every transport, nothing stored`, async () => {
      const messages = new Map<Transport, string>();
      for (const via of TRANSPORTS) {
        const { init, token } = await checkedSession(s, "sale");
        const { operation, body, invoiceId } = await k.spoil(init, token);
        messages.set(via, expectRefused(await notify(via, operation, body, invoiceId), k.code, init.invoiceId));
        expect(await cardsOf(s, init.serialNumber)).toEqual([]);
      }
      expect(messages.get("grpc")).toBe(messages.get("json"));
      expect(messages.get("connect")).toBe(messages.get("json"));
    });
  }

  it("a lone surrogate in serverCardId: FIELD_FORMAT over Connect JSON, as on the JSON path", async () => {
    const { init, token } = await checkedSession(s, "sale");
    const body = notificationBody(init, token, { serverCardId: "\ud800123" });
    const json = expectRefused(await notify("json", "sale", body), "FIELD_FORMAT", init.invoiceId);
    expect(expectRefused(await notify("connect", "sale", body), "FIELD_FORMAT", init.invoiceId)).toBe(json);
    expect(await cardsOf(s, init.serialNumber)).toEqual([]);
  });
});

describe("repeat sale over CheckSale", () => {
  for (const via of TRANSPORTS) {
    it(`${via}: the device's card answers its serverCardId, signed over it; another device's is CARD_NOT_OWNED`, async () => {
      const first = await checkedSession(s, "verification");
      const ref = serverCardId();
      expectAnswer(
        await notify(via, "verification", notificationBody(first.init, first.token, { serverCardId: ref })),
        first.init,
        first.token,
      );
      const clientCardId = (await cardsOf(s, first.init.serialNumber))[0]?.clientCardId ?? "";

      const init = await initiate(s, "sale", first.init.serialNumber);
      const token = gatewayToken();
      const out = await checkSale(via, init.invoiceId, repeatCheckBody(init, token, clientCardId));
      expect(out).toEqual({ ok: true, answer: repeatSaleAnswer(init, token, ref) });

      const stranger = await initiate(s, "sale");
      const foreign = repeatCheckBody(stranger, gatewayToken(), clientCardId);
      expectRefused(await checkSale(via, stranger.invoiceId, foreign), "CARD_NOT_OWNED", stranger.invoiceId);
      await expectNothingBound(s, stranger.invoiceId);
    });
  }
});

it("gateway.allowFrom refuses the notification paths and RPCs to other peers, storing nothing", async () => {
  const t = await startTestServer({ config: { gateway: { allowFrom: ["192.0.2.0/24"] } } });
  const tc = grpcJsGatewayClients(t.port);
  try {
    const init = await initiate(t, "sale");
    const body = notificationBody(init, gatewayToken(), { serverCardId: serverCardId() });
    for (const answer of [
      await postNotification(t.url, "sale", body),
      await postNotification(t.url, "verification", body, init.invoiceId),
    ]) {
      expect({ status: answer.status, code: answer.json?.error?.code }).toEqual({
        status: 403,
        code: "PEER_NOT_ALLOWED",
      });
    }
    const g = grpcOutcome(await tc.call(tc.gateway, "SaleNotification", body));
    expect(g).toMatchObject({ ok: false, code: "PEER_NOT_ALLOWED", grpcStatus: grpc.status.PERMISSION_DENIED });
    expect(await cardsOf(t, init.serialNumber)).toEqual([]);
  } finally {
    tc.close();
    await t.close();
  }
});
