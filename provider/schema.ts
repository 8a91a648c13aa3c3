import * as fs from "fs";
import * as path from "path";

/** schema.json at the package root: the one description of every type, shared by provider and SDK. */
export const SCHEMA_PATH = path.resolve(__dirname, "..", "..", "schema.json");
export const schemaText = fs.readFileSync(SCHEMA_PATH, "utf8");
const schema = JSON.parse(schemaText);

export const PACKAGE_VERSION: string = schema.version;

interface PropertySpec {
  secret?: boolean;
  replaceOnChanges?: boolean;
}

/** What the provider needs to know of one resource type, derived from schema.json. */
export interface ResourceSpec {
  token: string;
  inputs: string[];
  outputs: string[];
  secrets: Set<string>;
  replaceOnChanges: Set<string>;
}

export function resourceSpec(token: string): ResourceSpec | undefined {
  const r = schema.resources?.[token];
  if (!r) return undefined;
  const inputs: Record<string, PropertySpec> = r.inputProperties ?? {};
  const outputs: Record<string, PropertySpec> = r.properties ?? {};
  const all = { ...outputs, ...inputs };
  return {
    token,
    inputs: Object.keys(inputs),
    outputs: Object.keys(outputs),
    secrets: new Set(Object.keys(all).filter((k) => all[k].secret)),
    replaceOnChanges: new Set(Object.keys(inputs).filter((k) => inputs[k].replaceOnChanges)),
  };
}

/** Provider configuration variables with their environment-variable fallbacks. */
export function configEnvironment(): Record<string, string[]> {
  const vars: Record<string, { defaultInfo?: { environment?: string[] } }> = schema.config?.variables ?? {};
  return Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.defaultInfo?.environment ?? []]));
}

/** A property as schema.json describes it (the parts input validation reads). */
export interface PropertySchema {
  type?: "string" | "integer" | "number" | "boolean" | "array" | "object";
  $ref?: string;
  items?: PropertySchema;
  additionalProperties?: PropertySchema;
  properties?: Record<string, PropertySchema>;
  required?: string[];
  enum?: { value: unknown }[];
  secret?: boolean;
}

/** The inputs of a resource type and which are required. */
export function inputSchema(token: string): { properties: Record<string, PropertySchema>; required: string[] } | undefined {
  const r = schema.resources?.[token];
  return r && { properties: r.inputProperties ?? {}, required: r.requiredInputs ?? [] };
}

/** The type a `$ref` such as `#/types/imageport:index:StorageLocation` points at. */
export function referencedType(ref: string): (PropertySchema & { description?: string }) | undefined {
  const prefix = "#/types/";
  return ref.startsWith(prefix) ? schema.types?.[ref.slice(prefix.length)] : undefined;
}
