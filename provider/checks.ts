import * as crypto from "crypto";
import { CheckContext, CheckFailure } from "./handler";
import { isUnknown, PropertyMap } from "./properties";

/** Small validators shared by resource checks; each returns a failure naming the property. */

export function requireString(inputs: PropertyMap, key: string, why: string): CheckFailure[] {
  const v = inputs[key];
  if (v === undefined || v === null || v === "") return [{ property: key, reason: `${key} is required ${why}` }];
  if (!isUnknown(v) && typeof v !== "string") return [{ property: key, reason: `${key} must be a string, got ${typeof v}` }];
  return [];
}

export function oneOf(inputs: PropertyMap, key: string, allowed: readonly string[]): CheckFailure[] {
  const v = inputs[key];
  if (v === undefined || isUnknown(v) || allowed.includes(v as string)) return [];
  return [{ property: key, reason: `${key} must be one of ${allowed.join(", ")}; got ${JSON.stringify(v)}` }];
}

export function matches(inputs: PropertyMap, key: string, pattern: RegExp, allowed: string): CheckFailure[] {
  const v = inputs[key];
  if (v === undefined || isUnknown(v) || (typeof v === "string" && pattern.test(v))) return [];
  return [{ property: key, reason: `${key} ${JSON.stringify(v)} is not valid: ${allowed}` }];
}

/** Identifiers end up in resource ids and URLs, which Pulumi keeps in plain text. */
export function notSecret(ctx: CheckContext, keys: string[]): CheckFailure[] {
  return keys
    .filter((k) => ctx.secretKeys.has(k))
    .map((k) => ({ property: k, reason: `${k} must be a plain value, not a secret: it becomes part of the resource id, which Pulumi stores in plain text` }));
}

/**
 * A physical name: the one given, else the one chosen before (so names stay stable across
 * updates), else the logical name plus a suffix derived from the engine's random seed.
 */
export function autoName(inputs: PropertyMap, olds: PropertyMap, key: string, ctx: CheckContext): unknown {
  if (inputs[key] !== undefined) return inputs[key];
  if (typeof olds[key] === "string") return olds[key];
  const seed = ctx.randomSeed.length ? ctx.randomSeed : crypto.randomBytes(8);
  return `${ctx.name}-${crypto.createHash("sha256").update(seed).digest("hex").slice(0, 7)}`;
}

/** A whole number within [min, max], when given and known. */
export function integerInRange(inputs: PropertyMap, key: string, min: number, max: number): CheckFailure[] {
  const v = inputs[key];
  if (v === undefined || isUnknown(v) || (typeof v === "number" && Number.isInteger(v) && v >= min && v <= max)) return [];
  return [{ property: key, reason: `${key} must be a whole number from ${min} to ${max}; got ${JSON.stringify(v)}` }];
}
