import { ConfigurationError } from "./errors";

/** The embedded engine started by `imageport serve` with its defaults. */
export const EMBEDDED_ENDPOINT = "http://127.0.0.1:7780";

/** Citrix Cloud API hosts by region; IPS routes live under `/ips/` on each. */
const CITRIX_CLOUD_REGIONS: Record<string, string> = {
  "api-us": "https://api-us.cloud.com",
  "api-eu": "https://api-eu.cloud.com",
  "api-ap-s": "https://api-ap-s.cloud.com",
  "citrixcloud.jp": "https://api.citrixcloud.jp",
};

export const REGION_NAMES = Object.keys(CITRIX_CLOUD_REGIONS);

/**
 * Turns a region name or a full URL into the API's base URL (no trailing slash).
 * `setting` names the configuration key for error messages.
 */
export function resolveEndpoint(value: string | undefined, setting = "endpoint"): string {
  if (value === undefined || value === "") return EMBEDDED_ENDPOINT;
  const region = CITRIX_CLOUD_REGIONS[value];
  if (region) return region;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(
      setting,
      `"${value}" is neither a URL nor a region; use http(s)://host[:port] or one of ${REGION_NAMES.join(", ")}`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigurationError(setting, `"${value}" must use http or https, not ${url.protocol}`);
  }
  return url.toString().replace(/\/+$/, "");
}
