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
import { anyToConnectError } from "./connect-errors.js";
import { kRequestLog } from "./request-log.js";

/** Registers GatewayService on a Connect router. */
export function gatewayRoutes(checks: CheckService): (router: ConnectRouter) => void {
  async function call(operation: Operation, message: unknown, ctx: HandlerContext): Promise<CheckResult> {
    const log = ctx.values.get(kRequestLog);
    if (log) log.operation = operation === "sale" ? "check-sale" : "check-verification";
    try {
      // The message has the documented JSON field names, invoiceId included.
      const result = await checks.check(operation, message);
      if (log) {
        log.endpointId = result.endpointId;
        log.invoiceId = result.invoiceId;
      }
      return result;
    } catch (e) {
      const { connectError, appError } = anyToConnectError(e);
      if (log) log.error = appError;
      throw connectError;
    }
  }
  return (router) => {
    router.service(GatewayService, {
      checkSale: async (req, ctx) => create(CheckSaleResponseSchema, await call("sale", req, ctx)),
      checkVerification: async (req, ctx) =>
        create(CheckVerificationResponseSchema, await call("verification", req, ctx)),
    });
  };
}
