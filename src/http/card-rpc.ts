/**
 * The card services over Connect, gRPC and gRPC-Web. DeviceCardService is the
 * app's, authenticated by the access token in the message like
 * InitiateService; CardService is the back office's, behind the API keys like
 * SessionService. Neither ever answers TopTechPay's serverCardId (the core's
 * views have none to give).
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import {
  CardService,
  DeleteCardResponseSchema,
  DeviceCardService,
  ListCardsResponseSchema,
} from "../../gen/toptechpay/card/v1/card_pb.js";
import type { CardQueries } from "../core/card-queries.js";
import type { DeviceCards } from "../core/device-cards.js";
import { apiKeyGuard } from "./api-key-guard.js";
import { cardMessage, deletedDeviceCard, deviceCardList } from "./card-messages.js";
import { CARD_LABELS, cardFactsNoter, kRequestState } from "./request-state.js";
import { runRpc } from "./run-rpc.js";

/** Registers DeviceCardService on a Connect router. */
export function registerDeviceCardService(router: ConnectRouter, cards: DeviceCards): void {
  router.service(DeviceCardService, {
    // protobuf-es messages are plain objects with the documented JSON field
    // names, so the core validates them exactly like a JSON body.
    listDeviceCards: (req, ctx) =>
      runRpc(ctx, async (log) => {
        if (log) log.operation = CARD_LABELS.list;
        return deviceCardList(await cards.list(req, cardFactsNoter(log)));
      }),
    deleteDeviceCard: (req, ctx) =>
      runRpc(ctx, async (log) => {
        if (log) log.operation = CARD_LABELS.delete;
        return deletedDeviceCard(await cards.delete(req, cardFactsNoter(log)));
      }),
  });
}

/** Registers CardService on a Connect router, behind the API keys. */
export function registerCardService(router: ConnectRouter, queries: CardQueries, apiKeys: readonly string[]): void {
  const guarded = apiKeyGuard(apiKeys);
  router.service(CardService, {
    listCards: (req, ctx) => {
      const log = ctx.values.get(kRequestState);
      if (log) log.operation = "back-office-list-cards";
      return guarded(ctx, async () => {
        const options = { includeDeleted: req.includeDeleted };
        const listing = await queries.list(req.serialNumber, options, cardFactsNoter(log));
        return create(ListCardsResponseSchema, { cards: listing.cards.map(cardMessage), truncated: listing.truncated });
      });
    },
    deleteCard: (req, ctx) => {
      const log = ctx.values.get(kRequestState);
      if (log) log.operation = "back-office-delete-card";
      return guarded(ctx, async () => {
        const card = await queries.delete(req.clientCardId, cardFactsNoter(log));
        return create(DeleteCardResponseSchema, { card: cardMessage(card) });
      });
    },
  });
}
