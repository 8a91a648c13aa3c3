// The engine settings that point the GCP driver somewhere other than Google (fakes in tests).
// Endpoints are settings of the engine, never fields of a credential.

import { jobFailure } from "../../errors";

export const GCS_ENDPOINT_ENV = "IMAGEPORT_GCS_ENDPOINT_URL";
export const GCE_ENDPOINT_ENV = "IMAGEPORT_GCE_ENDPOINT_URL";
export const GCP_TOKEN_URL_ENV = "IMAGEPORT_GCP_TOKEN_URL";

export const GCS_DEFAULT = "https://storage.googleapis.com";
export const GCE_DEFAULT = "https://compute.googleapis.com";
export const TOKEN_URL_DEFAULT = "https://oauth2.googleapis.com/token";

export interface GcpEndpoints {
  gcs: string;
  gce: string;
  tokenUrl: string;
  /** Which settings are overridden, for error messages (no secrets in them). */
  overridden: string[];
}

export function gcpEndpoints(env: NodeJS.ProcessEnv = process.env): GcpEndpoints {
  const overridden: string[] = [];
  const read = (name: string, fallback: string, keepPath: boolean): string => {
    const value = env[name]?.trim();
    if (!value) return fallback;
    overridden.push(name);
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw jobFailure("ENGINE_SETTING_INVALID", `${name} is set to something that is not a URL; set it to e.g. http://127.0.0.1:4443 or unset it.`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw jobFailure("ENGINE_SETTING_INVALID", `${name} must be an http:// or https:// URL; it has the scheme '${url.protocol}'.`);
    }
    if (url.username || url.password) {
      throw jobFailure("ENGINE_SETTING_INVALID", `${name} must not carry user info; GCP credentials come from the credential wallet.`);
    }
    return keepPath ? url.href : url.href.replace(/\/+$/, "");
  };
  return {
    gcs: read(GCS_ENDPOINT_ENV, GCS_DEFAULT, false),
    gce: read(GCE_ENDPOINT_ENV, GCE_DEFAULT, false),
    tokenUrl: read(GCP_TOKEN_URL_ENV, TOKEN_URL_DEFAULT, true),
    overridden,
  };
}
