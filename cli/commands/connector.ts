import { Command, InvalidArgumentError } from "commander";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { join, resolve } from "node:path";
import { ConnectorApi, ConnectorRegistration, registerConnector } from "../../client/connectors";
import { normalizeFingerprint, TrustOptions } from "../../client/tls-trust";
import { isLoopback } from "../../engine/listen";
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
    .option("--code <code>", `one-time registration code (from POST /ips/connectors), needed on first start only; "-" reads it from stdin. Prefer $${CODE_ENV} or --code-file: command lines are visible in ps`)
    .option("--code-file <file>", "read the registration code from this file")
    .option("--engine-ca <file>", "PEM of the CA that issued an https:// engine's certificate (added to the system CAs)")
    .option("--engine-fingerprint <hex>", "the SHA-256 (or SHA-1) fingerprint of an https:// engine's certificate, pinned")
    .option("--data <dir>", "where the connector keeps its registration and scratch space", join(homedir(), ".imageport-connector"))
    .option("--slots <n>", "jobs to run at once", parseSlots, 2)
    .option("--file-root <dir>", "a directory file:// locations may lie under (repeatable); default: your home directory and the temporary directory", collect, [])
    .action(async (opts: ConnectorOptions) => {
      if (opts.fileRoot.length > 0) configureFileRoots(opts.fileRoot);
      const dataDir = resolve(opts.data);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const tls = engineTrust(opts);
      const registration = await loadOrRegister(dataDir, opts.engine, await registrationCode(opts), tls);
      const api = new ConnectorApi(opts.engine, registration, tls);
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

interface ConnectorOptions {
  engine: string;
  code?: string;
  codeFile?: string;
  engineCa?: string;
  engineFingerprint?: string;
  data: string;
  slots: number;
  fileRoot: string[];
}

/** Where the registration code may come from, none of them visible in ps but --code itself. */
export const CODE_ENV = "IMAGEPORT_REGISTRATION_CODE";

async function registrationCode(opts: ConnectorOptions): Promise<string | undefined> {
  if (opts.code === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8").trim() || undefined;
  }
  if (opts.code !== undefined) {
    process.stderr.write(`imageport connector: warning: --code is visible to other users in ps; pass it in $${CODE_ENV}, --code-file or on stdin (--code -).\n`);
    return opts.code;
  }
  if (opts.codeFile !== undefined) return readFileSync(opts.codeFile, "utf8").trim() || undefined;
  return process.env[CODE_ENV]?.trim() || undefined;
}

/** How to trust an https:// engine; refused at once for a plain http:// one that is not on this machine. */
function engineTrust(opts: ConnectorOptions): TrustOptions | undefined {
  const url = new URL(opts.engine);
  if ((opts.engineCa || opts.engineFingerprint) && url.protocol !== "https:") {
    throw new Error(`--engine-ca and --engine-fingerprint apply to an https:// engine; ${opts.engine} is ${url.protocol.slice(0, -1)}.`);
  }
  if (url.protocol === "http:" && !isLoopback(url.hostname)) {
    throw new Error(
      `The engine ${opts.engine} is not on this machine and speaks plain HTTP: the connector's credentials, and the credentials of the jobs it runs, would cross the network in clear text. ` +
        `Run the engine with TLS (imageport serve --tls-cert --tls-key) and connect with https://.`,
    );
  }
  if (opts.engineFingerprint !== undefined && normalizeFingerprint(opts.engineFingerprint) === undefined) {
    throw new Error("--engine-fingerprint is not a SHA-256 or SHA-1 fingerprint (64 or 40 hex digits, colons allowed).");
  }
  if (!opts.engineCa && !opts.engineFingerprint) return undefined;
  return { ...(opts.engineCa ? { caCertificate: readFileSync(opts.engineCa, "utf8") } : {}), ...(opts.engineFingerprint ? { fingerprint: opts.engineFingerprint } : {}) };
}

/** The saved registration for this engine, or a new one made with the code. */
async function loadOrRegister(dataDir: string, engine: string, code: string | undefined, tls: TrustOptions | undefined): Promise<ConnectorRegistration> {
  const file = join(dataDir, "connector.json");
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as ConnectorFile;
    if (saved.engine === engine && !code) return saved;
  }
  if (!code) {
    throw new Error(
      `This connector is not registered with ${engine} yet. Create a registration with POST /ips/connectors ` +
        `(or the ConnectorRegistration resource) and pass its code in $${CODE_ENV}, with --code-file, or on stdin (--code -).`,
    );
  }
  const registration = await registerConnector(engine, code, { version: engineVersion(), hostname: hostname() }, tls);
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
