/**
 * The `filters:` key of the configuration file: the merchant's risk rules.
 * Every key is optional; an absent rule refuses nothing. Mistakes in rules
 * (a bad CIDR, a latitude out of range, a minimum above its maximum, an
 * unknown currency) are reported here, so the server never starts with a rule
 * that does something other than what was written.
 */
import { isIPv4 } from "node:net";
import { z } from "zod";

const ISO_4217 = new Set(Intl.supportedValuesOf("currency"));
const IMEI = /^[0-9]{14,16}$/;
// Unicode "Cc": control characters, which no valid serial number holds.
const CONTROL_CHARS = /\p{Cc}/u;

/** Minor units (cents), as in `transaction.amountCentis`. */
const amount = z
  .number()
  .int("must be a whole number of minor units")
  .positive("must be greater than 0")
  .max(Number.MAX_SAFE_INTEGER, "is too large");

const amountLimits = z
  .strictObject({ min: amount.optional(), max: amount.optional() })
  .refine((a) => a.min !== undefined || a.max !== undefined, "give min, max or both")
  .refine((a) => a.min === undefined || a.max === undefined || a.min <= a.max, "min is above max");

/** Explains what is wrong with an IPv4 CIDR (or a plain address), or undefined when it is fine. */
function cidrProblem(text: string): string | undefined {
  const [address = "", prefixText, extra] = text.split("/");
  if (extra !== undefined || !isIPv4(address))
    return `"${text}" is not an IPv4 address or CIDR range such as 203.0.113.0/24`;
  if (prefixText === undefined) return undefined;
  if (!/^[0-9]{1,2}$/.test(prefixText) || Number(prefixText) > 32) {
    return `"${text}" has a prefix length outside 0-32`;
  }
  const prefix = Number(prefixText);
  const value = address.split(".").reduce((n, part) => n * 256 + Number(part), 0);
  const hostBits = prefix === 32 ? 0 : value % 2 ** (32 - prefix);
  if (hostBits !== 0) {
    const network = value - hostBits;
    const dotted = [24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join(".");
    return `"${text}" has host bits set; did you mean ${dotted}/${prefix}?`;
  }
  return undefined;
}

const cidr = z.string().superRefine((text, ctx) => {
  const problem = cidrProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const latitude = z.number().min(-90, "must be a latitude in [-90, 90]").max(90, "must be a latitude in [-90, 90]");
const longitude = z
  .number()
  .min(-180, "must be a longitude in [-180, 180]")
  .max(180, "must be a longitude in [-180, 180]");

const box = z
  .strictObject({ minLat: latitude, maxLat: latitude, minLng: longitude, maxLng: longitude })
  .refine((b) => b.minLat <= b.maxLat, "minLat is above maxLat")
  .refine(
    (b) => b.minLng <= b.maxLng,
    "minLng is above maxLng (a box across the 180th meridian is written as two boxes)",
  );

const velocityLimit = z.strictObject({
  max: z.number().int("must be a whole number").min(1, "must be at least 1"),
  windowSeconds: z
    .number()
    .int("must be a whole number of seconds")
    .min(1, "must be at least 1")
    .max(7 * 24 * 3600, "must be at most 604800 (7 days)"),
});

/** The `filters:` key as written; every rule optional. */
export const filtersSchema = z
  .strictObject({
    /** Per currency, minor units; sales only (a verification has no amount). */
    amounts: z
      .record(z.string(), amountLimits)
      .superRefine((amounts, ctx) => {
        for (const code of Object.keys(amounts)) {
          if (!/^[A-Z]{3}$/.test(code) || !ISO_4217.has(code)) {
            ctx.addIssue({ code: "custom", path: [code], message: "is not an ISO 4217 currency code" });
          }
        }
      })
      .default({}),
    blockedDevices: z
      .strictObject({
        serialNumbers: z
          .array(
            z
              .string()
              .min(1, "must not be empty")
              .max(50, "is longer than 50 characters, so no request can carry it")
              .refine((s) => !CONTROL_CHARS.test(s), "holds control characters"),
          )
          .default([]),
        imeis: z.array(z.string().regex(IMEI, "must be 14-16 digits")).default([]),
      })
      .default({ serialNumbers: [], imeis: [] }),
    ipAddresses: z
      .strictObject({
        /** Refuse a request with any address in these ranges. */
        block: z.array(cidr).default([]),
        /** When not empty, refuse a request with any address outside these ranges. */
        allow: z.array(cidr).default([]),
        /** Refuse a request that carries no IP address at all. */
        required: z.boolean().default(false),
      })
      .default({ block: [], allow: [], required: false }),
    locations: z
      .strictObject({
        /** Refuse a request without `location`. */
        required: z.boolean().default(false),
        /** When not empty, refuse a location outside every box (edges included). */
        allow: z.array(box).default([]),
      })
      .default({ required: false, allow: [] }),
    velocity: z
      .strictObject({
        perDevice: velocityLimit.optional(),
        perToken: velocityLimit.optional(),
        perIp: velocityLimit.optional(),
      })
      .default({}),
  })
  .default({
    amounts: {},
    blockedDevices: { serialNumbers: [], imeis: [] },
    ipAddresses: { block: [], allow: [], required: false },
    locations: { required: false, allow: [] },
    velocity: {},
  });

/** The checked `filters:` key, defaults filled in; what Config.filters holds. */
export type FiltersConfig = z.infer<typeof filtersSchema>;
