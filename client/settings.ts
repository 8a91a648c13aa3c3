import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ClientCredentials } from "./auth";
import { EMBEDDED_ENDPOINT, resolveEndpoint } from "./endpoint";
import { ConfigurationError } from "./errors";

// Where the API is and who we are, shared by the provider and the CLI: explicit values (stack
// config, command-line flags) > environment variables > the embedded engine's client.json.

export const SETTING_KEYS = ["endpoint", "customerId", "clientId", "clientSecret"] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/** Environment variables read for each setting, first wins (the same lists as schema.json's provider config). */
export const SETTING_ENVIRONMENT: Record<SettingKey, string[]> = {
  endpoint: ["IMAGEPORT_ENDPOINT", "CITRIX_HOSTNAME"],
  customerId: ["IMAGEPORT_CUSTOMER_ID", "CITRIX_CUSTOMER_ID"],
  clientId: ["IMAGEPORT_CLIENT_ID", "CITRIX_CLIENT_ID"],
  clientSecret: ["IMAGEPORT_CLIENT_SECRET", "CITRIX_CLIENT_SECRET"],
};

/** The file `imageport serve` writes its bootstrap API client to, inside its data directory. */
export const EMBEDDED_CLIENT_FILE = "client.json";

export interface ClientSettings {
  endpoint: string;
  credentials: ClientCredentials;
}

export interface ResolveSettingsOptions {
  /** Explicitly set values (stack config, flags); empty strings count as unset. */
  values?: Partial<Record<SettingKey, string | undefined>>;
  env?: NodeJS.ProcessEnv;
  /** Environment variables per setting; default SETTING_ENVIRONMENT. */
  environment?: Partial<Record<SettingKey, string[]>>;
  /**
   * The embedded engine's data directory, given explicitly: its client.json is then used for any
   * endpoint. Without it, client.json of defaultDataDir() is used for the default endpoint only.
   */
  dataDir?: string;
  /** How the caller names dataDir in messages, e.g. `--data`. */
  dataDirName?: string;
  /** How the caller names a setting in messages, e.g. `imageport:endpoint` or `--endpoint`. */
  settingName?(key: SettingKey): string;
  /** How to set a missing setting, e.g. "run `pulumi config set ...` or export X". */
  howToSet?(key: SettingKey, envVars: string[]): string;
}

/** Where `imageport serve` keeps its data (and its bootstrap API client) by default. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.IMAGEPORT_DATA_DIR || path.join(os.homedir(), ".imageport");
}

/**
 * Resolves endpoint and credentials. With no client id and secret set, the API client that the
 * embedded engine wrote to its data directory is used (for the default endpoint, or for any
 * endpoint when `dataDir` is given); a customer id that is set still wins over the file's.
 */
export function resolveClientSettings(options: ResolveSettingsOptions = {}): ClientSettings {
  const env = options.env ?? process.env;
  const environment = { ...SETTING_ENVIRONMENT, ...options.environment };
  const name = options.settingName ?? ((key: SettingKey) => key);
  const howToSet = options.howToSet ?? ((_key: SettingKey, vars: string[]) => `export ${vars.join(" or ")}`);
  const get = (key: SettingKey): string | undefined => {
    const value = options.values?.[key];
    if (value) return value;
    for (const variable of environment[key]) if (env[variable]) return env[variable];
    return undefined;
  };

  const endpoint = resolveEndpoint(get("endpoint"), name("endpoint"));
  let credentials = { customerId: get("customerId") ?? "", clientId: get("clientId") ?? "", clientSecret: get("clientSecret") ?? "" };
  if (!credentials.clientId && !credentials.clientSecret && (endpoint === EMBEDDED_ENDPOINT || options.dataDir !== undefined)) {
    const file = path.join(options.dataDir ?? defaultDataDir(env), EMBEDDED_CLIENT_FILE);
    const embedded = readEmbeddedClient(file, name, options.dataDir !== undefined ? (options.dataDirName ?? "dataDir") : undefined);
    credentials = { ...embedded, ...(credentials.customerId ? { customerId: credentials.customerId } : {}) };
  }
  for (const key of ["customerId", "clientId", "clientSecret"] as const) {
    if (!credentials[key]) throw new ConfigurationError(name(key), `is not set; ${howToSet(key, environment[key])}`);
  }
  return { endpoint, credentials };
}

function readEmbeddedClient(file: string, name: (key: SettingKey) => string, explicitDir: string | undefined): ClientCredentials {
  try {
    const c = JSON.parse(fs.readFileSync(file, "utf8"));
    return { customerId: c.customerId, clientId: c.clientId, clientSecret: c.clientSecret };
  } catch {
    const configure = `configure ${name("endpoint")}, ${name("clientId")} and ${name("clientSecret")}`;
    throw new ConfigurationError(
      explicitDir ?? name("endpoint"),
      explicitDir
        ? `no ${name("clientId")} and ${name("clientSecret")} are set and the engine's client file ${file} is missing or unreadable; ` +
            `point it at the data directory the engine was started with (\`imageport serve --data DIR\`) or ${configure}`
        : `no endpoint or API client is configured and the embedded engine's client file ${file} is missing; ` +
            `start the engine with \`imageport serve\` or ${configure}`,
    );
  }
}
