/**
 * Choosing the TopTechPay endpoint by operation and currency: a listed
 * currency wins over "any currency", and an ambiguous choice is refused when
 * the directory is built (that is, at start), never decided at random later.
 */
import { describe, expect, it } from "vitest";
import { createEndpointDirectory, type Endpoint } from "../src/core/endpoints.js";
import { controlKeyFromText } from "../src/core/signature.js";

const key = controlKeyFromText("B17F59B4-A7DC-41B4-8FF9-37D986B43D20");
const endpoint = (id: string, operations: Endpoint["operations"], currencies?: string[]): Endpoint => ({
  id,
  controlKey: key,
  operations,
  currencies,
});

describe("createEndpointDirectory", () => {
  const directory = createEndpointDirectory([
    endpoint("any-sale", ["sale"]),
    endpoint("eur-usd", ["sale", "verification"], ["EUR", "USD"]),
    endpoint("gbp-verification", ["verification"], ["GBP"]),
  ]);

  it.each([
    ["sale", "EUR", "eur-usd"],
    ["sale", "USD", "eur-usd"],
    ["sale", "GBP", "any-sale"],
    ["sale", "JPY", "any-sale"],
    ["verification", "EUR", "eur-usd"],
    ["verification", "GBP", "gbp-verification"],
  ] as const)("serves %s in %s from %s", (operation, currency, id) => {
    expect(directory.find(operation, currency)?.id).toBe(id);
  });

  it("finds nothing when no endpoint serves the pair", () => {
    expect(directory.find("verification", "JPY")).toBeUndefined();
    expect(createEndpointDirectory([]).find("sale", "EUR")).toBeUndefined();
  });

  it("refuses two endpoints for the same operation and currency, naming both", () => {
    expect(() =>
      createEndpointDirectory([
        endpoint("a", ["sale"], ["EUR"]),
        endpoint("b", ["verification", "sale"], ["CHF", "EUR"]),
      ]),
    ).toThrow('endpoints "a" and "b" both serve sale in EUR');
  });

  it("refuses two any-currency endpoints for one operation", () => {
    expect(() =>
      createEndpointDirectory([endpoint("a", ["verification"]), endpoint("b", ["sale", "verification"])]),
    ).toThrow(/"a" and "b" both take any currency for verification/);
  });

  it("allows the same currency for different operations and one any-currency endpoint per operation", () => {
    const d = createEndpointDirectory([
      endpoint("s", ["sale"], ["EUR"]),
      endpoint("v", ["verification"], ["EUR"]),
      endpoint("any-s", ["sale"]),
      endpoint("any-v", ["verification"]),
    ]);
    expect([d.find("sale", "EUR")?.id, d.find("verification", "EUR")?.id]).toEqual(["s", "v"]);
    expect([d.find("sale", "SEK")?.id, d.find("verification", "SEK")?.id]).toEqual(["any-s", "any-v"]);
  });
});
