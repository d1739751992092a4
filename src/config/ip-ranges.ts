/**
 * IPv4 and IPv6 address ranges in configuration (gateway.allowFrom,
 * gateway.trustedProxies), checked at start with a message a person can act on.
 */
import { isIP } from "node:net";
import { z } from "zod";

/** Explains what is wrong with an IPv4 or IPv6 address or CIDR range, or undefined when it is fine. */
function ipRangeProblem(text: string): string | undefined {
  const [address = "", prefixText, extra] = text.split("/");
  const family = isIP(address);
  if (extra !== undefined || family === 0) {
    return `"${text}" is not an IPv4 or IPv6 address or range such as 203.0.113.0/24 or 2001:db8::/32`;
  }
  const bits = family === 4 ? 32 : 128;
  if (prefixText !== undefined && (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits)) {
    return `"${text}" has a prefix length outside 0-${bits}`;
  }
  return undefined;
}

/** A configuration string holding one address or CIDR range. */
export const ipRange = z.string().superRefine((text, ctx) => {
  const problem = ipRangeProblem(text);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});
