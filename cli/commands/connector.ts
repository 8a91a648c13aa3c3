import { Command, InvalidArgumentError } from "commander";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import { ConnectorApi, ConnectorRegistration, registerConnector } from "../../client/connectors";
import { ConnectorLoop } from "../../engine/runner/connector-loop";
import { configureFileRoots } from "../../engine/platforms/local/file-roots";
import { collect } from "./serve";
import { ClaimedWork, WorkChannel } from "../../engine/runner/work";
import { engineVersion } from "../../engine/version";

interface ConnectorFile extends ConnectorRegistration {
  engine: string;
}

/**
 * `imageport connector`: a worker for one resource location, on the machine that reaches its
 * storage. It pulls jobs from the engine over HTTP, as the embedded connector does in-process.
 */
export function registerConnectorCommand(program: Command): void {
  program
    .command("connector")
    .description("run a connector: pulls jobs of its resource location from an engine and runs them here")
    .requiredOption("--engine <url>", "the engine's base URL, e.g. http://10.0.0.5:7780")
    .option("--code <code>", "one-time registration code (from POST /ips/connectors); needed on first start only")
    .option("--data <dir>", "where the connector keeps its registration and scratch space", join(homedir(), ".imageport-connector"))
    .option("--slots <n>", "jobs to run at once", parseSlots, 2)
    .option("--file-root <dir>", "a directory file:// locations may lie under (repeatable); default: your home directory and the temporary directory", collect, [])
    .action(async (opts: { engine: string; code?: string; data: string; slots: number; fileRoot: string[] }) => {
      if (opts.fileRoot.length > 0) configureFileRoots(opts.fileRoot);
      const dataDir = resolve(opts.data);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const registration = await loadOrRegister(dataDir, opts.engine, opts.code);
      const api = new ConnectorApi(opts.engine, registration);
      const log = jsonLog({ connectorId: registration.connectorId });
      const loop = new ConnectorLoop(httpChannel(api), { slots: opts.slots, workRoot: join(dataDir, "work"), log, pollMs: 1000 });
      loop.start();
      process.stdout.write(
        `imageport connector ${registration.connectorId} running for resource location ${registration.resourceLocationId} (engine: ${opts.engine})\n`,
      );
      const stop = () => {
        process.off("SIGINT", stop).off("SIGTERM", stop);
        loop.stop().then(() => process.exit(0), () => process.exit(1));
      };
      process.on("SIGINT", stop).on("SIGTERM", stop);
    });
}

function httpChannel(api: ConnectorApi): WorkChannel {
  return {
    claim: () => api.claim<ClaimedWork>(),
    report: (jobId, report) => api.report(jobId, report),
    heartbeat: (ids) => api.heartbeat(ids),
  };
}

/** The saved registration for this engine, or a new one made with the code. */
async function loadOrRegister(dataDir: string, engine: string, code: string | undefined): Promise<ConnectorRegistration> {
  const file = join(dataDir, "connector.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as ConnectorFile;
    if (saved.engine === engine && !code) return saved;
  }
  if (!code) {
    throw new Error(
      `This connector is not registered with ${engine} yet. Create a registration with POST /ips/connectors ` +
        `(or the ConnectorRegistration resource) and pass its code: imageport connector --engine ${engine} --code <code>`,
    );
  }
  const registration = await registerConnector(engine, code, { version: engineVersion(), hostname: hostname() });
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  writeFileSync(tmp, JSON.stringify({ ...registration, engine }, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, file);
  return registration;
}

/** JSON lines on stdout; callers never pass secrets. */
function jsonLog(base: object) {
  const write = (level: string, fields: object, msg: string) =>
    process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level, ...base, ...fields, msg }) + "\n");
  return {
    info: (fields: object, msg: string) => write("info", fields, msg),
    warn: (fields: object, msg: string) => write("warn", fields, msg),
  };
}

function parseSlots(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError("must be a whole number from 1 to 64.");
  return n;
}
