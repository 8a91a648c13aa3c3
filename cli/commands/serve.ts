import { Command, InvalidArgumentError } from "commander";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { createEngine, DEFAULT_HOST, DEFAULT_PORT } from "../../engine";
import { redactDatabaseUrl, urlHasPassword } from "../../engine/store/postgres";

/** Read when --database is not given; the way to pass a password without it showing in `ps`. */
export const DATABASE_URL_ENV = "IMAGEPORT_DATABASE_URL";

/** `imageport serve`: runs the engine in the foreground until SIGINT/SIGTERM. */
export function registerServe(program: Command): void {
  program
    .command("serve")
    .description("run the imageportd engine in the foreground")
    .option("--data <dir>", "data directory (database, master key, client.json, logs)", join(homedir(), ".imageport"))
    .option("--host <host>", "address to listen on; other than loopback only with --tls-cert and --tls-key", DEFAULT_HOST)
    .option("--tls-cert <file>", "serve HTTPS with this PEM certificate (chain)")
    .option("--tls-key <file>", "the PEM private key of --tls-cert")
    .option("--port <port>", "port to listen on (0 picks a free one)", parsePort, DEFAULT_PORT)
    .option("--log-stdout", "also write the JSON log lines to stdout", false)
    .option("--file-root <dir>", "a directory file:// locations may lie under (repeatable); default: your home directory and the temporary directory", collect, [])
    .option("--no-local-connector", "do not run jobs of the 'local' location in this process (engines sharing a PostgreSQL store: run it in one only)")
    // No default from the environment here: commander would print it, password included, in --help.
    .option(
      "--database <url>",
      `PostgreSQL database (postgres://user@host:5432/db) instead of <data>/imageport.db; default $${DATABASE_URL_ENV}. ` +
        `Put a password in $${DATABASE_URL_ENV} or $PGPASSWORD, not here: command lines are visible in ps`,
    )
    .action(async (opts: { data: string; host: string; port: number; logStdout: boolean; database?: string; localConnector: boolean; fileRoot: string[]; tlsCert?: string; tlsKey?: string }) => {
      if (!opts.tlsCert !== !opts.tlsKey) throw new Error("--tls-cert and --tls-key go together: give both, or neither.");
      const tls = opts.tlsCert && opts.tlsKey ? { cert: readFileSync(opts.tlsCert, "utf8"), key: readFileSync(opts.tlsKey, "utf8") } : undefined;
      const dataDir = resolve(opts.data);
      const databaseUrl = (opts.database ?? process.env[DATABASE_URL_ENV])?.trim() || undefined;
      if (opts.database && urlHasPassword(opts.database)) {
        process.stderr.write(
          `imageport serve: warning: --database contains a password, which other users of this machine can see ` +
            `in ps; pass the URL in ${DATABASE_URL_ENV} (or the password in PGPASSWORD) instead.\n`,
        );
      }
      const engine = await createEngine({
        dataDir,
        databaseUrl,
        host: opts.host,
        port: opts.port,
        logToStdout: opts.logStdout,
        localConnector: opts.localConnector,
        fileRoots: opts.fileRoot.length > 0 ? opts.fileRoot : undefined,
        tls,
      }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== "EADDRINUSE") throw err;
        throw new Error(`${opts.host}:${opts.port} is already in use (another imageportd?); choose another --port.`);
      });
      const database = databaseUrl ? `, database: ${redactDatabaseUrl(databaseUrl)}` : "";
      process.stdout.write(`imageportd listening on ${engine.url} (data: ${dataDir}${database})\n`);

      const stop = (signal: NodeJS.Signals) => {
        process.off("SIGINT", stop).off("SIGTERM", stop); // a second signal uses node's default: exit now
        engine.close().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`imageport serve: error while stopping after ${signal}: ${String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", stop).on("SIGTERM", stop);
    });
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidArgumentError("must be a whole number from 0 to 65535.");
  }
  return port;
}

/** commander's way to take an option more than once. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
