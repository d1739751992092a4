/**
 * Peer 9 and 11, Fastify + better-sqlite3 + pino: what a merchant's team
 * would write instead of this server, in a day. Fastify's JSON body parser
 * (64 KiB) and its JSON-schema validation (Ajv) for the documented bodies,
 * the service and store of peer-work.mjs / peer-store.mjs (token lookup,
 * one durable commit per request, `synchronous = FULL` in WAL mode), and
 * Fastify's own pino logger at info, one line per request, to stdout (a
 * file in the bench). Serves `POST /sale/initiate-sale` and
 * `POST /sale/{invoiceId}/check`. Usage: node fastify-peer.mjs --db PATH
 */
import Fastify, { LogController } from "fastify";
import { AppError } from "../../dist/src/core/error-catalogue.js";
import { announce, errorAnswer, exitOnSignal } from "./baseline-work.mjs";
import { openPeer } from "./peer-work.mjs";

const text = (minLength, maxLength) => ({ type: "string", minLength, maxLength });
const object = (required, properties) => ({ type: "object", required, properties });

const saleSchema = object(["consumer", "transaction", "session"], {
  consumer: object(["device"], {
    device: object(["serialNumber"], { serialNumber: text(1, 50), imei: text(14, 16) }),
    ipAddresses: { type: "array", maxItems: 16, items: text(7, 15) },
  }),
  transaction: object(["amountCentis", "currency"], {
    amountCentis: { type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    currency: { type: "string", pattern: "^[A-Z]{3}$" },
  }),
  session: object(["accessToken"], { accessToken: text(32, 128) }),
  location: object([], {
    lat: { type: "number", minimum: -90, maximum: 90 },
    lng: { type: "number", minimum: -180, maximum: 180 },
  }),
});

const checkSchema = object(["consumer", "session"], {
  consumer: object(["device"], { device: object(["serialNumber"], { serialNumber: text(1, 50) }) }),
  session: object(["accessToken", "nonce", "signature", "token"], {
    accessToken: text(32, 128),
    nonce: text(32, 128),
    signature: text(32, 128),
    token: text(16, 36),
  }),
});

// Ajv's keyword of the first failure, to the catalogue's code.
const VALIDATION_CODES = {
  required: "FIELD_REQUIRED",
  type: "FIELD_TYPE",
  minLength: "FIELD_LENGTH",
  maxLength: "FIELD_LENGTH",
  minimum: "FIELD_RANGE",
  maximum: "FIELD_RANGE",
};
// Fastify's own body errors, to the catalogue's code.
const FASTIFY_CODES = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "CONTENT_TYPE_UNSUPPORTED",
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
  FST_ERR_CTP_EMPTY_JSON_BODY: "BODY_EMPTY",
  FST_ERR_CTP_INVALID_JSON_BODY: "BODY_NOT_JSON",
};

/** One line per request when its answer is sent, as this server writes, instead of Fastify's two. */
class OneLinePerRequest extends LogController {
  incomingRequest() {}
  requestCompleted(_error, req, reply) {
    req.log.info(
      { method: req.method, url: req.url, status: reply.statusCode, ms: reply.elapsedTime, invoiceId: reply.invoiceId },
      "request",
    );
  }
}

const service = openPeer();
const app = Fastify({ logger: { level: "info" }, logController: new OneLinePerRequest(), bodyLimit: 64 * 1024 });
// Fastify parses text/plain too; the contract takes JSON only.
app.removeContentTypeParser("text/plain");

app.setErrorHandler((e, req, reply) => {
  let error = e;
  if (e.validation) {
    const first = e.validation[0];
    error = new AppError(VALIDATION_CODES[first?.keyword] ?? "FIELD_FORMAT", `${e.validationContext}: ${e.message}`);
  } else if (FASTIFY_CODES[e.code]) {
    error = new AppError(FASTIFY_CODES[e.code], e.message);
  } else if (e instanceof SyntaxError) {
    error = new AppError("BODY_NOT_JSON", "The request body is not valid JSON.");
  }
  const { status, body } = errorAnswer(error);
  if (status >= 500) req.log.error({ err: e }, "request failed");
  reply.code(status).header("cache-control", "no-store").send(body);
});
app.setNotFoundHandler((_req, reply) => {
  const { status, body } = errorAnswer(new AppError("ROUTE_NOT_FOUND", "Not found."));
  reply.code(status).send(body);
});

app.decorateReply("invoiceId", undefined);

app.post("/sale/initiate-sale", { schema: { body: saleSchema } }, (req, reply) => {
  const answer = service.initiate(req.body);
  reply.invoiceId = answer.invoiceId;
  reply.header("cache-control", "no-store").send(answer);
});

app.post("/sale/:invoiceId/check", { schema: { body: checkSchema } }, (req, reply) => {
  reply.invoiceId = req.params.invoiceId;
  reply.header("cache-control", "no-store").send(service.check(req.params.invoiceId, req.body));
});

const url = await app.listen({ host: "127.0.0.1", port: 0 });
announce(url);
exitOnSignal(() => app.close());
