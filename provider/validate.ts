import { CheckFailure } from "./handler";
import { isUnknown, PropertyMap } from "./properties";
import { inputSchema, PropertySchema, referencedType } from "./schema";

/**
 * Checks inputs against schema.json: required inputs, value types, enum values and the
 * properties of object types, naming each property by its path (`outputStorageLocation.location`).
 * Values still unknown at preview are not judged: they are checked again once known.
 */
export function validateInputs(token: string, inputs: PropertyMap): CheckFailure[] {
  const spec = inputSchema(token);
  if (!spec) return [];
  const failures: CheckFailure[] = [];
  for (const key of spec.required) {
    if (inputs[key] === undefined || inputs[key] === null) failures.push({ property: key, reason: `${key} is required` });
  }
  for (const [key, prop] of Object.entries(spec.properties)) {
    const value = inputs[key];
    if (value !== undefined && value !== null) failures.push(...validateValue(key, value, prop));
  }
  return failures;
}

function validateValue(path: string, value: unknown, prop: PropertySchema): CheckFailure[] {
  if (isUnknown(value)) return [];
  const type = prop.$ref ? referencedType(prop.$ref) : prop;
  if (!type) return [];
  const fail = (reason: string): CheckFailure[] => [{ property: path, reason: `${path} ${reason}` }];
  switch (type.type) {
    case "string":
      if (typeof value !== "string") return fail(`must be a string, got ${describe(value)}`);
      if (type.enum && !type.enum.some((e) => e.value === value)) {
        return fail(`must be one of ${type.enum.map((e) => e.value).join(", ")}; got ${JSON.stringify(value)}`);
      }
      return [];
    case "integer":
      return Number.isInteger(value) ? [] : fail(`must be a whole number, got ${describe(value)}`);
    case "number":
      return typeof value === "number" ? [] : fail(`must be a number, got ${describe(value)}`);
    case "boolean":
      return typeof value === "boolean" ? [] : fail(`must be true or false, got ${describe(value)}`);
    case "array":
      if (!Array.isArray(value)) return fail(`must be a list, got ${describe(value)}`);
      return value.flatMap((item, i) => (type.items ? validateValue(`${path}[${i}]`, item, type.items) : []));
    case "object":
      if (typeof value !== "object" || Array.isArray(value)) return fail(`must be an object, got ${describe(value)}`);
      return validateObject(path, value as PropertyMap, type);
    default:
      return [];
  }
}

function validateObject(path: string, value: PropertyMap, type: PropertySchema): CheckFailure[] {
  if (type.additionalProperties) {
    return Object.entries(value).flatMap(([k, v]) => validateValue(`${path}.${k}`, v, type.additionalProperties!));
  }
  const properties = type.properties ?? {};
  const failures: CheckFailure[] = [];
  for (const key of type.required ?? []) {
    if (value[key] === undefined || value[key] === null) failures.push({ property: `${path}.${key}`, reason: `${path}.${key} is required` });
  }
  for (const [key, v] of Object.entries(value)) {
    if (v === undefined || v === null) continue;
    const prop = properties[key];
    if (!prop) {
      failures.push({ property: `${path}.${key}`, reason: `${path}.${key} is not a known property; use ${Object.keys(properties).join(", ")}` });
    } else {
      failures.push(...validateValue(`${path}.${key}`, v, prop));
    }
  }
  return failures;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null) return "null";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value)}`;
}
