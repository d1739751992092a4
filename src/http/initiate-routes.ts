/**
 * InitiateService over Connect, gRPC and gRPC-Web: a thin adapter that hands
 * the decoded message to the core and turns the outcome back into a message or
 * a ConnectError with ErrorDetail.
 */
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import {
  InitiateService,
  SaleResponseSchema,
  VerificationResponseSchema,
} from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import type { Operation } from "../core/initiate-request.js";
import type { InitiateService as Core } from "../core/initiate-service.js";
import { anyToConnectError } from "./connect-errors.js";
import { kRequestLog, noteSuccess } from "./request-log.js";

/** Registers InitiateService on a Connect router. */
export function initiateRoutes(core: Core): (router: ConnectRouter) => void {
  async function call(operation: Operation, message: unknown, ctx: HandlerContext) {
    const log = ctx.values.get(kRequestLog);
    if (log) log.operation = operation;
    try {
      // protobuf-es messages are plain objects with the documented JSON
      // field names, so the core validates them exactly like a JSON body.
      const result = await core.initiate(operation, message);
      noteSuccess(log, result);
      return result;
    } catch (e) {
      const { connectError, appError } = anyToConnectError(e);
      if (log) log.error = appError;
      throw connectError;
    }
  }
  return (router) => {
    router.service(InitiateService, {
      sale: async (req, ctx) => create(SaleResponseSchema, await call("sale", req, ctx)),
      verification: async (req, ctx) => create(VerificationResponseSchema, await call("verification", req, ctx)),
    });
  };
}
