/**
 * The app's card paths, `POST /cards/list-cards` and `POST /cards/delete-card`:
 * a thin adapter over the core's DeviceCards, read and answered like every
 * JSON path. The answers are DeviceCardService's messages in proto3 JSON
 * (card-messages.ts), so the two protocols answer alike.
 */
import type { DeviceCards } from "../core/device-cards.js";
import { sendJson, sendJsonPathError } from "./answer.js";
import { deletedDeviceCardJson, deviceCardListJson } from "./card-messages.js";
import { readJsonPost } from "./read-body.js";
import { CARD_JSON_PATHS, CARD_LABELS, cardFactsNoter } from "./request-state.js";
import type { Route } from "./route.js";

/** The route for both card paths; any other path passes to the next route. */
export function cardJsonRoute(cards: DeviceCards, options: { readonly maxBodyBytes: number }): Route {
  return (req, res, path, log) => {
    const action = CARD_JSON_PATHS.get(path);
    if (action === undefined) return false;
    log.operation = CARD_LABELS[action];
    const note = cardFactsNoter(log);
    readJsonPost(req, options.maxBodyBytes)
      .then((body) =>
        action === "list"
          ? cards.list(body, note).then(deviceCardListJson)
          : cards.delete(body, note).then(deletedDeviceCardJson),
      )
      .then(
        (answer) => sendJson(res, 200, answer),
        (e: unknown) => sendJsonPathError(req, res, e),
      );
    return true;
  };
}
