import { ProviderServer } from "./server";
import { functions } from "./functions";
import { handlers } from "./resources";

/**
 * Entry point of pulumi-resource-imageport. The engine starts it with its own address as
 * the first non-flag argument and reads the port from stdout: nothing else may go there.
 */
async function main(argv: string[]): Promise<void> {
  const server = new ProviderServer(handlers, functions);
  const engineAddress = argv.find((a) => !a.startsWith("-"));
  if (engineAddress) server.log.attach(engineAddress);
  const { port } = await server.listen();
  process.stdout.write(`${port}\n`);
  exitWithParent();
}

/**
 * A provider outliving its CLI (killed with SIGKILL) would poll jobs for nobody: exit when the
 * parent goes away. Jobs keep running in the engine; the next `up` re-attaches to them.
 */
function exitWithParent(): void {
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1_000).unref();
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`pulumi-resource-imageport: ${err instanceof Error ? err.stack : err}\n`);
  process.exit(1);
});
