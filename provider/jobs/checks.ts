import { CheckContext, CheckFailure } from "../handler";
import { isUnknown, PropertyMap } from "../properties";

/**
 * A StorageLocation input: `file:///dir/` (no credential) or `smb://host[:port]/share/path/`
 * (with a credential), checked where known.
 */
export function checkStorageLocation(inputs: PropertyMap, key: string): CheckFailure[] {
  const value = inputs[key] as PropertyMap | undefined;
  if (!value || typeof value !== "object" || isUnknown(value)) return [];
  const { location, credentialId } = value;
  if (typeof location !== "string" || isUnknown(location)) return [];
  const fail = (property: string, reason: string): CheckFailure[] => [{ property, reason }];
  if (location.startsWith("file://")) {
    if (!location.startsWith("file:///")) return fail(`${key}.location`, `${key}.location ${JSON.stringify(location)} must be an absolute directory: file:///dir/`);
    if (credentialId !== undefined && !isUnknown(credentialId)) {
      return fail(`${key}.credentialId`, `${key}.credentialId is not used for a file:// location; remove it`);
    }
    return [];
  }
  if (location.startsWith("smb://")) {
    if (credentialId === undefined) return fail(`${key}.credentialId`, `${key}.credentialId is required for an smb:// location: the UsernamePassword credential that reaches the share`);
    if (!/^smb:\/\/[^/]+\/[^/]+/.test(location)) return fail(`${key}.location`, `${key}.location ${JSON.stringify(location)} must name a share: smb://host[:port]/share/path/`);
    return [];
  }
  return fail(`${key}.location`, `${key}.location ${JSON.stringify(location)} is not supported; use file:///dir/ or smb://host[:port]/share/path/`);
}

/** A file name within a location: no directories. */
export function checkFileName(inputs: PropertyMap, key: string, suffix?: string): CheckFailure[] {
  const v = inputs[key];
  if (typeof v !== "string" || isUnknown(v)) return [];
  if (v.includes("/") || v.includes("\\") || v === "." || v === "..") {
    return [{ property: key, reason: `${key} ${JSON.stringify(v)} must be a plain file name; put directories in the storage location` }];
  }
  if (suffix && !v.toLowerCase().endsWith(suffix)) return [{ property: key, reason: `${key} ${JSON.stringify(v)} must end in ${suffix}` }];
  return [];
}

/** Job parameters are echoed by the API and kept in state in plain text: no secrets in them. */
export function noSecretParameters(ctx: CheckContext, keys: Iterable<string>): CheckFailure[] {
  return [...keys]
    .filter((k) => ctx.secretKeys.has(k))
    .map((k) => ({
      property: k,
      reason: `${k} must be a plain value, not a secret: job parameters are shown by the API and kept in Pulumi state in plain text. Keep secrets in a Credential and reference its credentialId`,
    }));
}
