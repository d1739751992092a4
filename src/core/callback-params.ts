/**
 * The parameters of a final-status callback, as the gateway sends them (a
 * query string or a form body, already split into name/value pairs by the
 * edge): one value per name, bounded in number and length so nothing large
 * is ever stored or logged.
 */
import { AppError } from "./error-catalogue.js";

/** Most parameters a callback may carry; the gateway's pages show about ten. */
export const MAX_CALLBACK_PARAMS = 64;
/** Longest parameter name, in UTF-16 code units. */
export const MAX_CALLBACK_NAME = 64;
/** Longest parameter value, in UTF-16 code units. */
export const MAX_CALLBACK_VALUE = 256;

/** The parameters the duplicate key and the control are made of; all are required. */
export const REQUIRED_CALLBACK_PARAMS = ["status", "type", "orderid", "client_orderid"] as const;

/**
 * The pairs as one map. Throws CALLBACK_PARAM_TOO_LONG past a limit and
 * CALLBACK_PARAM_REPEATED when a name comes twice: which of two values the
 * gateway meant is unknowable, and the control covers only one of each.
 */
export function callbackParams(pairs: Iterable<readonly [string, string]>): Map<string, string> {
  const params = new Map<string, string>();
  let count = 0;
  for (const [name, value] of pairs) {
    if (++count > MAX_CALLBACK_PARAMS) {
      throw new AppError("CALLBACK_PARAM_TOO_LONG", `A callback may carry at most ${MAX_CALLBACK_PARAMS} parameters.`);
    }
    if (name.length > MAX_CALLBACK_NAME) {
      throw new AppError(
        "CALLBACK_PARAM_TOO_LONG",
        `A callback parameter name must be at most ${MAX_CALLBACK_NAME} characters.`,
      );
    }
    if (value.length > MAX_CALLBACK_VALUE) {
      throw new AppError(
        "CALLBACK_PARAM_TOO_LONG",
        `The callback parameter ${name} must be at most ${MAX_CALLBACK_VALUE} characters.`,
      );
    }
    if (params.has(name)) {
      throw new AppError("CALLBACK_PARAM_REPEATED", `The callback parameter ${name} is given more than once.`);
    }
    params.set(name, value);
  }
  return params;
}

/** Throws CALLBACK_PARAM_MISSING naming the first required parameter that is absent or empty. */
export function requireCallbackParams(params: ReadonlyMap<string, string>): void {
  const missing = REQUIRED_CALLBACK_PARAMS.filter((name) => !params.get(name));
  if (missing.length > 0) {
    throw new AppError("CALLBACK_PARAM_MISSING", `The callback lacks ${missing.join(", ")}.`);
  }
}
