/**
 * The core's card views as toptechpay.card.v1 messages, for DeviceCardService
 * and CardService, and as the JSON card paths' answers: those are the same
 * messages in proto3 JSON, so the two can never drift apart (a timestamp, for
 * one, is written exactly as proto3 JSON writes it).
 */
import { create, type JsonValue, toJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  type Card,
  CardSchema,
  type DeleteDeviceCardResponse,
  DeleteDeviceCardResponseSchema,
  type ListDeviceCardsResponse,
  ListDeviceCardsResponseSchema,
  Operation,
} from "../../gen/toptechpay/card/v1/card_pb.js";
import type { CardView } from "../core/card-queries.js";
import type { AppCardView, DeletedCardView } from "../core/device-cards.js";

const UINT32_MAX = 0xffff_ffff;

/**
 * A BIN as the schema's uint32 can carry it. A BIN is 6-8 digits (ISO/IEC
 * 7812); a value outside uint32 is not one, and is left out rather than
 * wrapped around.
 */
function binOf(bin: number | undefined): number | undefined {
  return bin !== undefined && Number.isInteger(bin) && bin >= 0 && bin <= UINT32_MAX ? bin : undefined;
}

/** ListDeviceCards' answer. */
export function deviceCardList(result: { readonly cards: readonly AppCardView[] }): ListDeviceCardsResponse {
  return create(ListDeviceCardsResponseSchema, {
    cards: result.cards.map((c) => ({
      clientCardId: c.clientCardId,
      bin: binOf(c.bin),
      createdAt: timestampFromDate(c.createdAt),
    })),
  });
}

/** DeleteDeviceCard's answer. */
export function deletedDeviceCard(result: { readonly card: DeletedCardView }): DeleteDeviceCardResponse {
  return create(DeleteDeviceCardResponseSchema, {
    card: { clientCardId: result.card.clientCardId, deletedAt: timestampFromDate(result.card.deletedAt) },
  });
}

/**
 * The JSON list path's answer: ListDeviceCards' message in proto3 JSON, with
 * an empty list written out (`{"cards":[]}`) rather than left out.
 */
export function deviceCardListJson(result: { readonly cards: readonly AppCardView[] }): JsonValue {
  return toJson(ListDeviceCardsResponseSchema, deviceCardList(result), { alwaysEmitImplicit: true });
}

/** The JSON delete path's answer: DeleteDeviceCard's message in proto3 JSON. */
export function deletedDeviceCardJson(result: { readonly card: DeletedCardView }): JsonValue {
  return toJson(DeleteDeviceCardResponseSchema, deletedDeviceCard(result));
}

/** A card as CardService answers it. */
export function cardMessage(c: CardView): Card {
  return create(CardSchema, {
    clientCardId: c.clientCardId,
    serialNumber: c.serialNumber,
    bin: binOf(c.bin),
    operation: c.operation === "sale" ? Operation.SALE : Operation.VERIFICATION,
    invoiceId: c.invoiceId,
    createdAt: timestampFromDate(c.createdAt),
    deletedAt: c.deletedAt && timestampFromDate(c.deletedAt),
  });
}
