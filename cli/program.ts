import { Command } from "commander";
import { engineVersion } from "../engine/version";
import { registerConnectorCommand } from "./commands/connector";
import { registerCredentials } from "./commands/credentials";
import { registerJobs } from "./commands/jobs";
import { registerServe } from "./commands/serve";

/** The `imageport` command. Each subcommand lives in cli/commands/<name>.ts and registers itself here. */
export function buildProgram(): Command {
  const program = new Command("imageport")
    .description("imageport: VM-image portability engine and tools")
    .version(engineVersion());
  registerServe(program);
  registerJobs(program);
  registerCredentials(program);
  registerConnectorCommand(program);
  return program;
}
