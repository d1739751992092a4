/**
 * Translates the core's AppError into a ConnectError that carries the same
 * cause, code and message as the JSON error body, as an ErrorDetail, so a gRPC
 * or Connect caller learns exactly what a JSON caller learns.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorDetailSchema } from "../../gen/toptechpay/initiate/v1/initiate_pb.js";
import { type AppError, type ConnectCodeName, toAppError } from "../core/error-catalogue.js";

const CODES: Record<ConnectCodeName, Code> = {
  invalid_argument: Code.InvalidArgument,
  unauthenticated: Code.Unauthenticated,
  permission_denied: Code.PermissionDenied,
  not_found: Code.NotFound,
  already_exists: Code.AlreadyExists,
  unimplemented: Code.Unimplemented,
  resource_exhausted: Code.ResourceExhausted,
  deadline_exceeded: Code.DeadlineExceeded,
  unavailable: Code.Unavailable,
  internal: Code.Internal,
};

/** The Connect code for a catalogue code name. */
export function connectCodeOf(name: ConnectCodeName): Code {
  return CODES[name];
}

/** An AppError as a ConnectError with an attached ErrorDetail. */
export function toConnectError(error: AppError): ConnectError {
  return new ConnectError(error.message, CODES[error.spec.connectCode], undefined, [
    { desc: ErrorDetailSchema, value: { cause: error.spec.cause, code: error.code, message: error.message } },
  ]);
}

/** Anything thrown, as a ConnectError with detail; internals stay hidden. */
export function anyToConnectError(thrown: unknown): { connectError: ConnectError; appError: AppError } {
  const appError = toAppError(thrown);
  return { connectError: toConnectError(appError), appError };
}
