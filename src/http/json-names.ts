/**
 * proto3 JSON takes every field under its JSON name (`serialNumber`) or its
 * proto name (`serial_number`); the core's validators read JSON names only.
 * This renames a refused RPC body's fields by the message's descriptor, so
 * the core names the broken field and rule exactly as on the JSON paths.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { isObject } from "../core/json-fields.js";

/** The raw JSON with proto field names spelled as JSON names (the JSON name wins when both are given). */
export function withJsonNames(desc: DescMessage, value: unknown): unknown {
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const field = desc.fields.find((f) => f.name === key || f.jsonName === key);
    if (field === undefined) {
      out[key] = item;
      continue;
    }
    if (field.jsonName !== key && field.jsonName in value) continue;
    out[field.jsonName] =
      field.fieldKind === "message"
        ? withJsonNames(field.message, item)
        : field.fieldKind === "list" && field.listKind === "message" && Array.isArray(item)
          ? item.map((element) => withJsonNames(field.message, element))
          : item;
  }
  return out;
}
