import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClientCredentials, ConfigurationError, EMBEDDED_ENDPOINT, resolveEndpoint } from "../client";
import { configEnvironment } from "./schema";

export interface ProviderSettings {
  endpoint: string;
  credentials: ClientCredentials;
}

/** Where `imageport serve` keeps its data (and its bootstrap API client) by default. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.IMAGEPORT_DATA_DIR || path.join(os.homedir(), ".imageport");
}

/**
 * Resolves the provider configuration: stack config first, then the environment variables
 * schema.json lists for each setting. With no endpoint and no client configured, it uses
 * the embedded engine and the API client that `imageport serve` wrote to its data dir.
 */
export function resolveSettings(config: Record<string, string | undefined>, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  const fallbacks = configEnvironment();
  const get = (key: string): string | undefined => {
    if (config[key]) return config[key];
    for (const name of fallbacks[key] ?? []) if (env[name]) return env[name];
    return undefined;
  };
  const endpoint = resolveEndpoint(get("endpoint"), "imageport:endpoint");
  let credentials = { customerId: get("customerId") ?? "", clientId: get("clientId") ?? "", clientSecret: get("clientSecret") ?? "" };
  if (!credentials.clientId && !credentials.clientSecret && endpoint === EMBEDDED_ENDPOINT) {
    credentials = { ...readEmbeddedClient(env), ...(credentials.customerId ? { customerId: credentials.customerId } : {}) };
  }
  for (const key of ["customerId", "clientId", "clientSecret"] as const) {
    if (!credentials[key]) {
      const vars = (fallbacks[key] ?? []).join(" or ");
      throw new ConfigurationError(`imageport:${key}`, `is not set; run \`pulumi config set imageport:${key} ...\`${key === "clientSecret" ? " --secret" : ""} or export ${vars}`);
    }
  }
  return { endpoint, credentials };
}

function readEmbeddedClient(env: NodeJS.ProcessEnv): ClientCredentials {
  const file = path.join(defaultDataDir(env), "client.json");
  try {
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    return { customerId: c.customerId, clientId: c.clientId, clientSecret: c.clientSecret };
  } catch {
    throw new ConfigurationError(
      "imageport:endpoint",
      `no endpoint or API client is configured and the embedded engine's client file ${file} is missing; ` +
        "start the engine with `imageport serve` or configure imageport:endpoint, imageport:clientId and imageport:clientSecret",
    );
  }
}
