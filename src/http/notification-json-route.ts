/**
 * TopTechPay's card mapping notification paths: `POST /sale/notification`,
 * `POST /verification/notification`, and the vendor sample's form with the
 * invoice id, `POST /sale/{invoiceId}/notification` (and verification). A
 * thin adapter over the core's notification, read and answered like every
 * JSON path; a failure body carries the path's invoice id, or the invoice
 * of the session the token named once the core found it (gateway.md).
 */
import type { Operation } from "../core/initiate-request.js";
import { isObject } from "../core/json-fields.js";
import type { NotificationService, NotificationTrace } from "../core/notification-service.js";
import { sendJson, sendJsonPathError } from "./answer.js";
import { matchCheckPath } from "./check-json-route.js";
import { readJsonPost } from "./read-body.js";
import type { Route } from "./route.js";

const NOTIFICATION_PATH = /^\/(sale|verification)\/notification$/;

/** The operation and (path form) invoice id of a notification path, or undefined for any other path. */
export function matchNotificationPath(
  path: string,
): { operation: Operation; invoiceId: string | undefined } | undefined {
  const plain = NOTIFICATION_PATH.exec(path);
  if (plain) return { operation: plain[1] as Operation, invoiceId: undefined };
  // The path form has the check path's shape: the same decoding of the invoice id.
  if (!path.endsWith("/notification")) return undefined;
  return matchCheckPath(`${path.slice(0, -"/notification".length)}/check`);
}

/** The route for the notification paths. */
export function notificationJsonRoute(
  notifications: NotificationService,
  options: { readonly maxBodyBytes: number },
): Route {
  return (req, res, path, log) => {
    const match = matchNotificationPath(path);
    if (match === undefined) return false;
    const { operation, invoiceId } = match;
    log.operation = `${operation}-notification`;
    const trace: NotificationTrace = {};
    readJsonPost(req, options.maxBodyBytes)
      .then((body) => {
        // Only the path names an invoice; a body field of that name is not the gateway's to set.
        if (!isObject(body)) return notifications.notify(operation, body, trace);
        const { invoiceId: _, ...rest } = body;
        return notifications.notify(operation, invoiceId === undefined ? rest : { ...rest, invoiceId }, trace);
      })
      .then(
        (result) => {
          log.endpointId = result.endpointId;
          log.invoiceId = result.answer.invoiceId;
          if (result.clientCardId !== undefined) log.clientCardId = result.clientCardId;
          sendJson(res, 200, result.answer);
        },
        (e: unknown) => {
          const known = trace.invoiceId ?? invoiceId;
          if (trace.endpointId !== undefined) log.endpointId = trace.endpointId;
          if (known !== undefined) log.invoiceId = known;
          sendJsonPathError(req, res, e, known === undefined ? undefined : { invoiceId: known });
        },
      );
    return true;
  };
}
