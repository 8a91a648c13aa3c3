import { isDeepStrictEqual } from "util";
import { containsUnknown, PropertyMap } from "./properties";
import { ResourceSpec } from "./schema";

export type DiffKind = "add" | "delete" | "update";

export interface PropertyChange {
  kind: DiffKind;
  replace: boolean;
}

export interface DiffResult {
  changes: Record<string, PropertyChange>;
  replaces: string[];
}

/**
 * Compares old and new inputs (plain values) property by property. A property listed
 * replaceOnChanges in schema.json replaces the resource; an unknown new value counts as
 * a change, since it may differ once known.
 */
export function diffInputs(spec: ResourceSpec, olds: PropertyMap, news: PropertyMap): DiffResult {
  const changes: Record<string, PropertyChange> = {};
  for (const key of spec.inputs) {
    const before = olds[key] ?? undefined;
    const after = news[key] ?? undefined;
    if (!containsUnknown(after) && isDeepStrictEqual(before, after)) continue;
    const kind: DiffKind = before === undefined ? "add" : after === undefined ? "delete" : "update";
    changes[key] = { kind, replace: spec.replaceOnChanges.has(key) };
  }
  return { changes, replaces: Object.keys(changes).filter((k) => changes[k].replace) };
}
