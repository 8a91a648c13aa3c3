// The engine settings that point Azure calls somewhere else than the public cloud (a sovereign
// cloud, or the fakes in tests). Machine settings read from the environment of the process
// that runs the job, never fields of the credential (the wallet holds secrets only).

import { jobFailure } from "../../errors";

export const AUTHORITY_HOST_ENV = "IMAGEPORT_AZURE_AUTHORITY_HOST";
export const ARM_ENDPOINT_ENV = "IMAGEPORT_AZURE_ARM_ENDPOINT";

export const DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com";
export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";

export interface AzureEndpoints {
  /** Microsoft Entra ID: tokens are asked for at <authorityHost>/<tenantId>/oauth2/v2.0/token. */
  authorityHost: string;
  /** Azure Resource Manager. */
  armEndpoint: string;
  /** Which of the two come from a setting (named in error messages). */
  overridden: { authorityHost: boolean; armEndpoint: boolean };
}

export function azureEndpoints(env: NodeJS.ProcessEnv = process.env): AzureEndpoints {
  const authority = urlSetting(AUTHORITY_HOST_ENV, env);
  const arm = urlSetting(ARM_ENDPOINT_ENV, env);
  return {
    authorityHost: authority ?? DEFAULT_AUTHORITY_HOST,
    armEndpoint: arm ?? DEFAULT_ARM_ENDPOINT,
    overridden: { authorityHost: authority !== undefined, armEndpoint: arm !== undefined },
  };
}

function urlSetting(name: string, env: NodeJS.ProcessEnv): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw jobFailure("ENGINE_SETTING_INVALID", `${name} is set to something that is not a URL; set it to e.g. http://127.0.0.1:7070 or unset it.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw jobFailure("ENGINE_SETTING_INVALID", `${name} must be an http:// or https:// URL; it has the scheme '${url.protocol}'.`);
  }
  if (url.username || url.password || url.search) {
    throw jobFailure("ENGINE_SETTING_INVALID", `${name} must be a plain base URL (no user info, no query); Azure credentials come from the credential wallet.`);
  }
  return url.href.replace(/\/$/, "");
}
