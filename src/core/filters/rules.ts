/**
 * The merchant's risk rules as the evaluator uses them, built once at start
 * from the checked `filters:` configuration: lookups become sets and
 * Node's `net.BlockList`, so evaluating a request costs a few hash and range
 * lookups. The input has already been checked by `src/config/filters-schema.ts`.
 */
import { BlockList } from "node:net";

/** A velocity limit: at most `max` attempts in any `windowSeconds`. */
export interface VelocityLimit {
  readonly max: number;
  readonly windowSeconds: number;
}

/** A latitude/longitude box, edges included. */
export interface LocationBox {
  readonly minLat: number;
  readonly maxLat: number;
  readonly minLng: number;
  readonly maxLng: number;
}

/** The rules as configured (the shape of the `filters:` key, defaults filled in). */
export interface FilterSettings {
  readonly amounts: Readonly<Record<string, { readonly min?: number | undefined; readonly max?: number | undefined }>>;
  readonly blockedDevices: { readonly serialNumbers: readonly string[]; readonly imeis: readonly string[] };
  readonly ipAddresses: {
    readonly block: readonly string[];
    readonly allow: readonly string[];
    readonly required: boolean;
  };
  readonly locations: { readonly required: boolean; readonly allow: readonly LocationBox[] };
  readonly velocity: {
    readonly perDevice?: VelocityLimit | undefined;
    readonly perToken?: VelocityLimit | undefined;
    readonly perIp?: VelocityLimit | undefined;
  };
}

/** The rules, ready to evaluate. Absent parts refuse nothing. */
export interface FilterRules {
  /** Per currency; a currency not listed has no amount limits. */
  readonly amounts: ReadonlyMap<string, { readonly min: number | undefined; readonly max: number | undefined }>;
  readonly blockedSerialNumbers: ReadonlySet<string>;
  readonly blockedImeis: ReadonlySet<string>;
  /** Undefined when no range is blocked. */
  readonly ipBlock: BlockList | undefined;
  /** Undefined when every address is allowed. */
  readonly ipAllow: BlockList | undefined;
  readonly ipRequired: boolean;
  readonly locationRequired: boolean;
  /** Empty: every location is allowed. */
  readonly locationBoxes: readonly LocationBox[];
  readonly velocity: {
    readonly perDevice: VelocityLimit | undefined;
    readonly perToken: VelocityLimit | undefined;
    readonly perIp: VelocityLimit | undefined;
  };
}

/** No rules at all: what a configuration without `filters:` gives. */
const NO_FILTER_SETTINGS: FilterSettings = {
  amounts: {},
  blockedDevices: { serialNumbers: [], imeis: [] },
  ipAddresses: { block: [], allow: [], required: false },
  locations: { required: false, allow: [] },
  velocity: {},
};

/** Adds "a.b.c.d/n" ranges and plain "a.b.c.d" addresses; undefined when there are none. */
function blockListOf(ranges: readonly string[]): BlockList | undefined {
  if (ranges.length === 0) return undefined;
  const list = new BlockList();
  for (const range of ranges) {
    const [address = "", prefix] = range.split("/");
    if (prefix === undefined) list.addAddress(address, "ipv4");
    else list.addSubnet(address, Number(prefix), "ipv4");
  }
  return list;
}

/** Builds the rule set once. Throws only on input the config schema would have refused. */
export function buildFilterRules(settings: FilterSettings = NO_FILTER_SETTINGS): FilterRules {
  return Object.freeze({
    amounts: new Map(Object.entries(settings.amounts).map(([currency, a]) => [currency, { min: a.min, max: a.max }])),
    blockedSerialNumbers: new Set(settings.blockedDevices.serialNumbers),
    blockedImeis: new Set(settings.blockedDevices.imeis),
    ipBlock: blockListOf(settings.ipAddresses.block),
    ipAllow: blockListOf(settings.ipAddresses.allow),
    ipRequired: settings.ipAddresses.required,
    locationRequired: settings.locations.required,
    locationBoxes: settings.locations.allow.map((b) => ({ ...b })),
    velocity: {
      perDevice: settings.velocity.perDevice,
      perToken: settings.velocity.perToken,
      perIp: settings.velocity.perIp,
    },
  });
}

/** True when any velocity limit is configured, so the store is asked at all. */
export function hasVelocityLimits(rules: FilterRules): boolean {
  const v = rules.velocity;
  return v.perDevice !== undefined || v.perToken !== undefined || v.perIp !== undefined;
}
