/**
 * GatewayService over Connect, gRPC and gRPC-Web: TopTechPay's checks and
 * card mapping notifications for internal callers, a thin adapter over the
 * same core functions as the JSON paths.
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  CheckSaleResponseSchema,
  CheckVerificationResponseSchema,
  GatewayService,
  SaleNotificationResponseSchema,
  VerificationNotificationResponseSchema,
} from "../../gen/toptechpay/gateway/v1/gateway_pb.js";
import type { CheckResult, CheckService } from "../core/check-service.js";
import type { Operation } from "../core/initiate-request.js";
import type { NotificationAnswer, NotificationService, NotificationTrace } from "../core/notification-service.js";
import { runRpc } from "./run-rpc.js";

/** Registers GatewayService on a Connect router. */
export function registerGatewayService(
  router: ConnectRouter,
  checks: CheckService,
  notifications: NotificationService,
): void {
  const call = (operation: Operation, message: unknown, ctx: HandlerContext): Promise<CheckResult> =>
    runRpc(ctx, async (log) => {
      if (log) log.operation = operation === "sale" ? "check-sale" : "check-verification";
      // The message has the documented JSON field names, invoiceId included.
      const result = await checks.check(operation, message);
      if (log) {
        log.endpointId = result.endpointId;
        log.invoiceId = result.invoiceId;
      }
      return result;
    });
  const notify = (operation: Operation, message: unknown, ctx: HandlerContext): Promise<NotificationAnswer> =>
    runRpc(ctx, async (log) => {
      if (log) log.operation = `${operation}-notification`;
      // The message has the documented JSON field names; invoiceId is set only for the path form.
      const trace: NotificationTrace = {};
      try {
        const result = await notifications.notify(operation, message, trace);
        if (log) log.clientCardId = result.clientCardId;
        return result.answer;
      } finally {
        if (log) {
          log.endpointId = trace.endpointId;
          log.invoiceId = trace.invoiceId;
        }
      }
    });
  router.service(GatewayService, {
    checkSale: async (req, ctx) => create(CheckSaleResponseSchema, await call("sale", req, ctx)),
    checkVerification: async (req, ctx) =>
      create(CheckVerificationResponseSchema, await call("verification", req, ctx)),
    saleNotification: async (req, ctx) => create(SaleNotificationResponseSchema, await notify("sale", req, ctx)),
    verificationNotification: async (req, ctx) =>
      create(VerificationNotificationResponseSchema, await notify("verification", req, ctx)),
  });
}
