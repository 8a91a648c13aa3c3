import { Command, Option } from "commander";
import { CREDENTIAL_TYPES, CredentialType } from "../../client";
import { formatCredentialTable } from "../output/format";
import { action, connect, ConnectionOptions, withConnectionOptions } from "./connection";

/** `imageport credentials ls`: the credential wallet, without secrets (the API never returns them). */
export function registerCredentials(program: Command): void {
  const credentials = withConnectionOptions(program.command("credentials").description("the engine's credential wallet"));

  credentials
    .command("ls")
    .description("list credentials (ids, types and non-secret fields)")
    .addOption(new Option("--type <type>", "only credentials of this type").choices(CREDENTIAL_TYPES))
    .option("--json", "print the credentials as JSON", false)
    .action(
      action(async (opts: { type?: CredentialType; json: boolean }, cmd: Command) => {
        const items = await connect(cmd.optsWithGlobals<ConnectionOptions>()).credentials.list(opts.type);
        if (opts.json) process.stdout.write(JSON.stringify(items, null, 2) + "\n");
        else if (items.length === 0) process.stdout.write("No credentials.\n");
        else process.stdout.write(formatCredentialTable(items));
      }),
    );
}
