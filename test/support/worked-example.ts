/**
 * The worked example of ../shared/spec/README.md ("Signature computation"):
 * a control key, the signed values of a sale, and the signature they give.
 */
import type { SignedFields } from "../../src/core/signature.js";

/** The example's control key, as the gateway prints it. */
export const WORKED_KEY = "B17F59B4-A7DC-41B4-8FF9-37D986B43D20";

/** The example's signed values (a sale of 10.00 EUR). */
export const WORKED: SignedFields = {
  accessToken: "0123456789abcdef0123456789abcdef",
  serialNumber: "SN-000001",
  endpointId: "1111",
  nonce: "n0nce0123456789abcdefn0nce0123456789abcdef",
  invoiceId: "7f3c1f6e-3b9a-4c55-9d3e-2a1b0c9d8e7f",
  amountCentis: 1000,
  currency: "EUR",
};

/** The signature the spec gives for them. */
export const WORKED_SIGNATURE = "91E4E9D527DD9575BF5359ADC1B79881B9FDBCB7";
