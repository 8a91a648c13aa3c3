import { Command } from "commander";
import { resolve } from "node:path";
import { ImageportClient, resolveClientSettings, SETTING_ENVIRONMENT, SettingKey } from "../../client";
import { engineVersion } from "../../engine/version";
import { describeError } from "../output/errors";

// What every command that talks to an engine shares: where it is, who we are, how errors look.
// Secrets come only from the environment or client.json, never from flags (visible in `ps`).

export interface ConnectionOptions {
  endpoint?: string;
  data?: string;
}

/** Adds --endpoint and --data to a command group; its subcommands see them through optsWithGlobals(). */
export function withConnectionOptions(command: Command): Command {
  return command
    .option("--endpoint <url>", `API URL or Citrix Cloud region (env ${SETTING_ENVIRONMENT.endpoint[0]}; default the embedded engine)`)
    .option("--data <dir>", "data directory of the engine whose client.json holds the API client (env IMAGEPORT_DATA_DIR; default ~/.imageport)")
    .addHelpText(
      "after",
      `\nCredentials come from ${SETTING_ENVIRONMENT.customerId[0]}, ${SETTING_ENVIRONMENT.clientId[0]} and ${SETTING_ENVIRONMENT.clientSecret[0]}, ` +
        "or from the engine's client.json when they are not set.",
    );
}

const FLAG: Partial<Record<SettingKey, string>> = { endpoint: "--endpoint" };

/** An API client for the engine the options and the environment point at. */
export function connect(options: ConnectionOptions, env: NodeJS.ProcessEnv = process.env): ImageportClient {
  const settings = resolveClientSettings({
    values: { endpoint: options.endpoint },
    env,
    dataDir: options.data !== undefined ? resolve(options.data) : undefined,
    dataDirName: "--data",
    settingName: (key) => FLAG[key] ?? SETTING_ENVIRONMENT[key][0],
    howToSet: (key, vars) =>
      key === "endpoint"
        ? `pass --endpoint or export ${vars.join(" or ")}`
        : `export ${vars.join(" or ")}, or pass --data with the engine's data directory to use its client.json`,
  });
  return new ImageportClient({ ...settings, userAgent: `imageport-cli/${engineVersion()}` });
}

/**
 * Wraps a command action: errors become one line on stderr (code and message, no stack) and
 * exit code 1; an action may set another exit code through its return value.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (code) process.exitCode = code;
    } catch (err) {
      process.stderr.write(`imageport: ${describeError(err)}\n`);
      process.exitCode = 1;
    }
  };
}
