/**
 * Which TopTechPay endpoint serves an operation in a currency. Built once from
 * configuration; looked up on every initiate.
 */
import type { KeyObject } from "node:crypto";
import type { Operation } from "./initiate-request.js";
import type { CallbackControl } from "./signature.js";

/** An endpoint as the core needs it: its id and its secret control key. */
export interface Endpoint {
  readonly id: string;
  readonly controlKey: KeyObject;
  /**
   * The `control` its final-status callbacks must carry (the key as text);
   * set for every configured endpoint. Undefined: its callbacks never verify.
   */
  readonly callbackControl?: CallbackControl | undefined;
  readonly operations: readonly Operation[];
  /** Undefined: the endpoint takes any currency. */
  readonly currencies: readonly string[] | undefined;
}

/** Finds the endpoint for an operation and a currency. */
export interface EndpointDirectory {
  /** The endpoint, or undefined when none serves this pair. */
  find(operation: Operation, currency: string): Endpoint | undefined;
  /** The endpoint with this id (a stored session names it), or undefined. */
  byId(id: string): Endpoint | undefined;
}

/**
 * Indexes endpoints. An endpoint that lists the currency wins over one that
 * takes any currency; two endpoints for the same operation and currency (or two
 * "any currency" endpoints for one operation) are a configuration error, since
 * the choice between them would be arbitrary.
 */
export function createEndpointDirectory(endpoints: readonly Endpoint[]): EndpointDirectory {
  const exact = new Map<string, Endpoint>();
  const fallback = new Map<Operation, Endpoint>();
  const ids = new Map(endpoints.map((e) => [e.id, e]));
  for (const endpoint of endpoints) {
    for (const operation of endpoint.operations) {
      if (endpoint.currencies === undefined) {
        const other = fallback.get(operation);
        if (other) {
          throw new Error(
            `endpoints "${other.id}" and "${endpoint.id}" both take any currency for ${operation}; give one of them a currencies list`,
          );
        }
        fallback.set(operation, endpoint);
        continue;
      }
      for (const currency of endpoint.currencies) {
        const key = `${operation}:${currency}`;
        const other = exact.get(key);
        if (other) {
          throw new Error(`endpoints "${other.id}" and "${endpoint.id}" both serve ${operation} in ${currency}`);
        }
        exact.set(key, endpoint);
      }
    }
  }
  return {
    find: (operation, currency) => exact.get(`${operation}:${currency}`) ?? fallback.get(operation),
    byId: (id) => ids.get(id),
  };
}
