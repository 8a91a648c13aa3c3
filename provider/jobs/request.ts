import * as crypto from "crypto";
import { PropertyMap } from "../properties";

/** Keys in a stable order, so equal bodies serialize (and hash) equally. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as PropertyMap)[k])]));
  }
  return value;
}

/**
 * The job request for a resource: the inputs the API takes, exactly as the program gave them
 * (no defaults filled in, so a job's echoed parameters read back as the same inputs).
 */
export function requestBody(inputs: PropertyMap, keys: readonly string[]): PropertyMap {
  return Object.fromEntries(keys.filter((k) => inputs[k] !== undefined && inputs[k] !== null).map((k) => [k, inputs[k]]));
}

/**
 * The idempotency token of a resource's job: the same resource (URN) asking for the same job
 * gets the same token, so an `up` after an interrupted one finds the job already running
 * instead of starting a second. A changed request is a different job.
 */
export function clientToken(urn: string, jobType: string, body: PropertyMap): string {
  const digest = crypto.createHash("sha256").update(JSON.stringify([urn, jobType, canonical(body)])).digest("hex");
  return `pulumi-${digest}`;
}

/** The inputs a job was created from, read back from its echoed parameters (for refresh and import). */
export function inputsFromParameters(parameters: PropertyMap, keys: readonly string[]): PropertyMap {
  return requestBody(parameters, keys);
}
