import { ClientSettings, defaultDataDir, resolveClientSettings, SettingKey } from "../client";
import { configEnvironment } from "./schema";

export type ProviderSettings = ClientSettings;
export { defaultDataDir };

/**
 * Resolves the provider configuration: stack config first, then the environment variables
 * schema.json lists for each setting. With no endpoint and no client configured, it uses
 * the embedded engine and the API client that `imageport serve` wrote to its data dir
 * (the shared rules live in client/settings.ts; this adds the Pulumi names and hints).
 */
export function resolveSettings(config: Record<string, string | undefined>, env: NodeJS.ProcessEnv = process.env): ProviderSettings {
  return resolveClientSettings({
    values: config,
    env,
    environment: configEnvironment(),
    settingName: (key: SettingKey) => `imageport:${key}`,
    howToSet: (key: SettingKey, vars: string[]) =>
      `run \`pulumi config set imageport:${key} ...\`${key === "clientSecret" ? " --secret" : ""} or export ${vars.join(" or ")}`,
  });
}
