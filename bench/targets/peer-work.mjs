/**
 * The peers' service (targets 9-11), written the way a team would write the
 * contract in a day: node:crypto for ids and the HMAC-SHA1 signatures, the
 * store in peer-store.mjs, errors from this server's catalogue so the
 * documented error body is the same. The transport validates the body shape
 * first (Fastify: its JSON schema; gRPC: `validateSale` below); this module
 * does the rest: currency, token lookup, durable insert, answer.
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import { parseArgs } from "node:util";
import { AppError } from "../../dist/src/core/error-catalogue.js";
import { BENCH_ENDPOINT } from "./baseline-work.mjs";
import { openPeerStore, sha256 } from "./peer-store.mjs";

const KEY = Buffer.from(BENCH_ENDPOINT.controlKeyText.replaceAll("-", ""), "hex");
const ACCEPTED = new Set(["EUR", "USD"]);
/** How long after its initiate a session may be checked. */
const CHECK_WINDOW_MS = 15 * 60_000;

const hmac = (text) => createHmac("sha1", KEY).update(text, "utf8").digest("hex").toUpperCase();

function sameText(a, b) {
  const x = Buffer.from(a, "utf8");
  const y = Buffer.from(b, "utf8");
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The database path from `--db PATH` (the bench prepares the file). */
export function databasePath() {
  const { values } = parseArgs({ options: { db: { type: "string" } }, strict: false });
  if (typeof values.db !== "string") throw new Error("usage: node PEER --db PATH");
  return values.db;
}

/** The service over one store: `initiate(body)` and `check(invoiceId, body)`; both throw AppError. */
export function createPeerService(store) {
  function initiate(body) {
    const { consumer, transaction, session, location } = body;
    const amountCentis = Number(transaction.amountCentis);
    if (!ACCEPTED.has(transaction.currency)) {
      throw new AppError("CURRENCY_NOT_ACCEPTED", `No endpoint accepts sale in ${transaction.currency}.`);
    }
    const accessTokenHash = sha256(session.accessToken);
    const token = store.findToken(accessTokenHash);
    const now = Date.now();
    if (!token || token.revoked_at !== null || token.expires_at <= now) {
      throw new AppError("ACCESS_TOKEN_INVALID", "The access token is unknown, expired or revoked.");
    }
    if (token.serial_number !== consumer.device.serialNumber) {
      throw new AppError("ACCESS_TOKEN_INVALID", "The access token was issued to another device.");
    }
    const invoiceId = randomUUID();
    const nonce = randomBytes(32).toString("base64url");
    const signature = hmac(
      session.accessToken +
        consumer.device.serialNumber +
        BENCH_ENDPOINT.id +
        nonce +
        invoiceId +
        amountCentis +
        transaction.currency,
    );
    store.insertSession({
      invoiceId,
      endpointId: BENCH_ENDPOINT.id,
      nonce,
      signature,
      amountCentis,
      currency: transaction.currency,
      serialNumber: consumer.device.serialNumber,
      imei: consumer.device.imei || null,
      ipAddresses: JSON.stringify(consumer.ipAddresses ?? []),
      lat: location?.lat ?? null,
      lng: location?.lng ?? null,
      accessTokenHash,
      createdAt: now,
    });
    return { endpointId: BENCH_ENDPOINT.id, invoiceId, session: { nonce, signature } };
  }

  function check(invoiceId, body) {
    const stored = store.findSession(invoiceId);
    if (!stored) throw new AppError("SESSION_NOT_FOUND", `No sale session has invoice id ${invoiceId}.`);
    const { session } = body;
    // Every value compared, so the time taken does not tell which one differed.
    const same = [
      sameText(body.consumer.device.serialNumber, stored.serial_number),
      sameText(sha256(session.accessToken), stored.access_token_hash),
      sameText(session.nonce, stored.nonce),
      sameText(session.signature, stored.signature),
    ];
    if (same.includes(false) || stored.revoked_at !== null) {
      throw new AppError("SESSION_MISMATCH", "The presented session does not match the session this server started.");
    }
    const tokenHash = sha256(session.token);
    if (stored.gateway_token_hash === null) {
      const now = Date.now();
      if (now - stored.created_at > CHECK_WINDOW_MS) {
        throw new AppError("CHECK_WINDOW_CLOSED", "The session is too old to be checked.");
      }
      let bound;
      try {
        bound = store.bindToken(invoiceId, tokenHash, now);
      } catch (e) {
        if (e?.code === "SQLITE_CONSTRAINT_UNIQUE") {
          throw new AppError("GATEWAY_TOKEN_IN_USE", "The session token is already bound to another session.");
        }
        throw e;
      }
      if (!bound) throw alreadyChecked();
    } else if (!sameText(stored.gateway_token_hash, tokenHash)) {
      throw alreadyChecked();
    }
    const checkSignature = hmac(stored.serial_number + stored.nonce + stored.endpoint_id + stored.invoice_id);
    return { invoiceId, session: { checkSignature, nonce: stored.nonce, token: session.token } };
  }

  return { initiate, check };
}

function alreadyChecked() {
  return new AppError("SESSION_ALREADY_CHECKED", "The session was already checked with another session token.");
}

/** Opens the store named by `--db` and builds the service on it. */
export function openPeer() {
  return createPeerService(openPeerStore(databasePath()));
}

function text(value, path, min, max) {
  if (value === undefined || value === null || value === "") {
    if (min === 0) return;
    throw new AppError("FIELD_REQUIRED", `${path} is required.`);
  }
  if (typeof value !== "string") throw new AppError("FIELD_TYPE", `${path} must be a string.`);
  if (value.length < min || value.length > max) {
    throw new AppError("FIELD_LENGTH", `${path} must be ${min}-${max} characters.`);
  }
}

function range(value, path, min, max) {
  if (value !== undefined && value !== null && !(value >= min && value <= max)) {
    throw new AppError("FIELD_RANGE", `${path} must be between ${min} and ${max}.`);
  }
}

/**
 * The gRPC peer's validation of a decoded SaleRequest (proto-loader with
 * `longs: String`): protobuf checks types only, so lengths, currency form
 * and amount are checked here, in the spirit of the documented rules.
 */
export function validateSale(request) {
  const device = request.consumer?.device;
  if (!device) throw new AppError("FIELD_REQUIRED", "consumer.device is required.");
  text(device.serialNumber, "consumer.device.serialNumber", 1, 50);
  text(device.imei, "consumer.device.imei", 0, 16);
  if (device.imei && device.imei.length < 14) throw new AppError("FIELD_LENGTH", "consumer.device.imei is 14-16.");
  for (const ip of request.consumer.ipAddresses ?? []) text(ip, "consumer.ipAddresses[]", 7, 15);
  text(request.session?.accessToken, "session.accessToken", 32, 128);
  const t = request.transaction;
  if (!t) throw new AppError("FIELD_REQUIRED", "transaction is required.");
  if (!/^[A-Z]{3}$/.test(t.currency ?? "")) {
    throw new AppError("FIELD_FORMAT", "transaction.currency must be three upper-case letters.");
  }
  if (!/^[1-9][0-9]{0,15}$/.test(t.amountCentis ?? "") || Number(t.amountCentis) > Number.MAX_SAFE_INTEGER) {
    throw new AppError("FIELD_RANGE", "transaction.amountCentis must be a positive whole number.");
  }
  range(request.location?.lat, "location.lat", -90, 90);
  range(request.location?.lng, "location.lng", -180, 180);
  return request;
}
