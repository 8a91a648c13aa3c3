/**
 * Pulumi's wire encoding of special property values inside protobuf Structs.
 * A secret is `{[SIG]: SECRET_SIG, value}`; a value not known during preview is UNKNOWN.
 */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

export type PropertyMap = Record<string, unknown>;

export function isSecret(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

export function secret(value: unknown): unknown {
  return isSecret(value) ? value : { [SIG_KEY]: SECRET_SIG, value };
}

export function isUnknown(v: unknown): boolean {
  return v === UNKNOWN;
}

/** Deeply true if any part of the value is unknown. */
export function containsUnknown(v: unknown): boolean {
  if (isUnknown(v)) return true;
  if (isSecret(v)) return containsUnknown(v.value);
  if (Array.isArray(v)) return v.some(containsUnknown);
  if (v && typeof v === "object") return Object.values(v).some(containsUnknown);
  return false;
}

/** Strips secret wrappers (deeply), returning plain values and the top-level keys that were secret. */
export function reveal(props: PropertyMap): { values: PropertyMap; secretKeys: Set<string> } {
  const values: PropertyMap = {};
  const secretKeys = new Set<string>();
  for (const [k, v] of Object.entries(props)) {
    if (containsSecret(v)) secretKeys.add(k);
    values[k] = unwrap(v);
  }
  return { values, secretKeys };
}

function containsSecret(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecret);
  if (v && typeof v === "object") return Object.values(v).some(containsSecret);
  return false;
}

function unwrap(v: unknown): unknown {
  if (isSecret(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}

/** Wraps the given top-level keys as secrets; absent keys stay absent. */
export function conceal(values: PropertyMap, keys: Iterable<string>): PropertyMap {
  const out: PropertyMap = { ...values };
  for (const k of keys) if (out[k] !== undefined && out[k] !== null) out[k] = secret(out[k]);
  return out;
}

/** Drops undefined members so Struct encoding and comparisons agree. */
export function compact(values: PropertyMap): PropertyMap {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== null));
}
