/**
 * GatewayService over Connect, gRPC and gRPC-Web: TopTechPay's checks for
 * internal callers, a thin adapter over the same core function as the JSON
 * check paths.
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  CheckSaleResponseSchema,
  CheckVerificationResponseSchema,
  GatewayService,
} from "../../gen/toptechpay/gateway/v1/gateway_pb.js";
import type { CheckResult, CheckService } from "../core/check-service.js";
import type { Operation } from "../core/initiate-request.js";
import { runRpc } from "./run-rpc.js";

/** Registers GatewayService on a Connect router. */
export function registerGatewayService(router: ConnectRouter, checks: CheckService): void {
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
  router.service(GatewayService, {
    checkSale: async (req, ctx) => create(CheckSaleResponseSchema, await call("sale", req, ctx)),
    checkVerification: async (req, ctx) =>
      create(CheckVerificationResponseSchema, await call("verification", req, ctx)),
  });
}
