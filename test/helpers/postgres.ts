import { ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { freePort } from "./emulator-process";

// A real, throw-away PostgreSQL server for tests, from Debian's `postgresql` package
// (scripts/setup installs it). One server per test file, one database per test.

/** Debian installs each major version's server in /usr/lib/postgresql/<major>/bin. */
const DEBIAN_PG_ROOT = "/usr/lib/postgresql";
const SUPERUSER = "postgres";
/** The unprivileged account initdb and postgres run as when the tests run as root. */
const SERVICE_ACCOUNT = "postgres";
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 10_000;

export interface PostgresServer {
  /** Port on 127.0.0.1. */
  readonly port: number;
  /** The superuser's password (tests check it never shows up in output). */
  readonly password: string;
  /** postgres://postgres:<password>@127.0.0.1:<port>/<dbName>; dbName defaults to "postgres". */
  url(dbName?: string, password?: string): string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Fast shutdown (SIGINT) by pid, then the data directory is removed. Idempotent. */
  stop(): Promise<void>;
}

/** Starts a server on a free port; resolves once it accepts connections. */
export async function startPostgres(): Promise<PostgresServer> {
  const bin = findServerBinaries();
  const runAs = process.getuid?.() === 0 ? serviceAccount() : undefined;
  const root = mkdtempSync(join(tmpdir(), "imageport-pg-"));
  const password = randomBytes(16).toString("hex");
  try {
    const dataDir = join(root, "data");
    const socketDir = join(root, "sock");
    mkdirSync(socketDir, { mode: 0o700 });
    const pwFile = join(root, "pwfile");
    writeFileSync(pwFile, password + "\n", { mode: 0o600 });
    if (runAs) for (const path of [root, socketDir, pwFile]) chownSync(path, runAs.uid, runAs.gid);

    await run(asUser(runAs, join(bin, "initdb"), initdbArgs(bin, dataDir, pwFile)), root);
    rmSync(pwFile);

    // A port picked free can be taken before postgres binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        const child = await startServer(runAs, bin, dataDir, socketDir, port, password, root);
        return server(child, root, port, password);
      } catch (err) {
        if (attempt >= 3 || !/could not bind|Address already in use/i.test(String(err))) throw err;
      }
    }
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

function server(child: ChildProcess, root: string, port: number, password: string): PostgresServer {
  const url = (dbName = "postgres", pw = password) =>
    `postgres://${SUPERUSER}:${encodeURIComponent(pw)}@127.0.0.1:${port}/${dbName}`;
  let stopping: Promise<void> | undefined;
  return {
    port,
    password,
    url,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    stop() {
      stopping ??= (async () => {
        await stopChild(child);
        rmSync(root, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/** The newest major version under /usr/lib/postgresql that has a server. */
function findServerBinaries(): string {
  const majors = existsSync(DEBIAN_PG_ROOT)
    ? readdirSync(DEBIAN_PG_ROOT)
        .filter((d) => /^\d+$/.test(d) && existsSync(join(DEBIAN_PG_ROOT, d, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      `No PostgreSQL server in ${DEBIAN_PG_ROOT}/<major>/bin: install Debian's postgresql package (scripts/setup does).`,
    );
  }
  return join(DEBIAN_PG_ROOT, majors[0]!, "bin");
}

function serviceAccount(): { name: string; uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith(`${SERVICE_ACCOUNT}:`));
  if (!line) {
    throw new Error(
      `PostgreSQL refuses to run as root and there is no '${SERVICE_ACCOUNT}' user to run it as; ` +
        `install Debian's postgresql package (it creates one) or run the tests as a normal user.`,
    );
  }
  const [, , uid, gid] = line.split(":");
  return { name: SERVICE_ACCOUNT, uid: Number(uid), gid: Number(gid) };
}

function initdbArgs(bin: string, dataDir: string, pwFile: string): string[] {
  const args = [
    "-D", dataDir, "-U", SUPERUSER, `--pwfile=${pwFile}`,
    "--auth-local=trust", "--auth-host=scram-sha-256", // TCP needs the password, so a wrong one is refused
    "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
  ];
  // A non-byte-wise default collation, as on most real servers (en_US.UTF-8), so tests see
  // what ORDER BY does there. ICU locales need PostgreSQL 15 or later.
  const major = Number(/\/(\d+)\/bin$/.exec(bin)?.[1] ?? 0);
  if (major >= 15) args.push("--locale-provider=icu", "--icu-locale=en-US");
  return args;
}

async function startServer(
  runAs: { name: string } | undefined,
  bin: string,
  dataDir: string,
  socketDir: string,
  port: number,
  password: string,
  cwd: string,
): Promise<ChildProcess> {
  const [cmd, ...args] = asUser(runAs, join(bin, "postgres"), [
    "-D", dataDir, "-p", String(port), "-k", socketDir,
    "-c", "listen_addresses=127.0.0.1",
    // Throw-away data: skip durability for speed.
    "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
  ]);
  const child = spawn(cmd!, args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.on("data", (chunk: Buffer) => (log = (log + chunk.toString()).slice(-8000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const deadline = Date.now() + READY_TIMEOUT_MS;
  const url = `postgres://${SUPERUSER}:${password}@127.0.0.1:${port}/postgres`;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`postgres exited (${child.exitCode ?? child.signalCode}) while starting:\n${log}`);
    }
    const client = new Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.end();
      return child;
    } catch {
      await client.end().catch(() => undefined);
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`postgres did not accept connections within ${READY_TIMEOUT_MS / 1000} s:\n${log}`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 50)), exited]);
  }
}

/**
 * The command line for `cmd` as the service account when root, else as ourselves. Either way the
 * server dies with the test process (pdeathsig), so an interrupted run leaves no server behind.
 */
function asUser(runAs: { name: string } | undefined, cmd: string, args: string[]): string[] {
  const drop = runAs ? ["--reuid", runAs.name, "--regid", runAs.name, "--init-groups"] : [];
  return ["setpriv", ...drop, "--pdeathsig", "SIGKILL", "--", cmd, ...args];
}

function run(argv: string[], cwd: string): Promise<void> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    execFile(cmd!, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${argv.slice(0, 8).join(" ")} ... failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGINT"); // fast shutdown: roll back sessions, checkpoint, exit
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}


/**
 * Registers before/after hooks in the current describe block: one server for the block, a new
 * database per call of newDatabase().
 */
export function usePostgres(): { readonly server: PostgresServer; newDatabase(): Promise<string> } {
  let current: PostgresServer | undefined;
  let count = 0;
  before(async function () {
    this.timeout(60_000);
    current = await startPostgres();
  });
  after(async function () {
    this.timeout(30_000);
    await current?.stop();
  });
  const handle = {
    get server(): PostgresServer {
      if (!current) throw new Error("the PostgreSQL server is not running (use it inside tests or hooks)");
      return current;
    },
    newDatabase: () => handle.server.createDatabase(`test_${++count}`),
  };
  return handle;
}
