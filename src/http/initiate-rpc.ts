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
import type { Initiator } from "../core/initiator.js";
import { noteSuccess } from "./request-state.js";
import { runRpc } from "./run-rpc.js";

/** Registers InitiateService on a Connect router. */
export function registerInitiateService(router: ConnectRouter, core: Initiator): void {
  const call = (operation: Operation, message: unknown, ctx: HandlerContext) =>
    runRpc(ctx, async (log) => {
      if (log) log.operation = operation;
      // protobuf-es messages are plain objects with the documented JSON
      // field names, so the core validates them exactly like a JSON body.
      const result = await core.initiate(operation, message);
      noteSuccess(log, result);
      return result;
    });
  router.service(InitiateService, {
    sale: async (req, ctx) => create(SaleResponseSchema, await call("sale", req, ctx)),
    verification: async (req, ctx) => create(VerificationResponseSchema, await call("verification", req, ctx)),
  });
}
