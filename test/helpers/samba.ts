import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { freePort } from "./emulator-process";

// A private Samba smbd for tests: its own smb.conf, every state directory and the passdb under
// one temp dir, listening on 127.0.0.1 on a free port, run in the foreground as our child so
// the test owns its pid. Samba maps every SMB user to a Unix user of the same name, and a
// non-root smbd can only act as the user it runs as, so users must be named after the current
// Unix user (unixUserName()); pdbedit (unlike smbpasswd) adds them without root.

export interface SambaShare {
  path: string;
  readOnly?: boolean;
}

export interface SambaOptions {
  shares: Record<string, string | SambaShare>;
  users: { username: string; password: string }[];
}

export interface Samba {
  host: "127.0.0.1";
  port: number;
  pid: number;
  /** smb://127.0.0.1:PORT/share/[path/] */
  location(share: string, path?: string): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** The Unix user this process runs as: the only name a test smbd can serve. */
export function unixUserName(): string {
  return os.userInfo().username;
}

export async function startSamba(options: SambaOptions): Promise<Samba> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "imageport-samba-"));
  let child: ChildProcess | undefined;
  try {
    for (const dir of ["private", "lock", "state", "cache", "pid", "ncalrpc", "log"]) {
      fs.mkdirSync(path.join(root, dir), { mode: 0o700 });
    }
    const port = await freePort();
    const conf = path.join(root, "smb.conf");
    fs.writeFileSync(conf, smbConf(root, port, options.shares));
    for (const user of options.users) addUser(conf, user.username, user.password);

    // detached: smbd signals its whole process group when it shuts down (SIGTERM to pgid 0),
    // which would otherwise be the test runner's group.
    child = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", "smbd", "-s", conf, "-F", "--no-process-group", "--debug-stdout", "-d", "1"], {
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    child.stdout!.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    await waitForPort(port, child, () => output);

    const running = child;
    return {
      host: "127.0.0.1",
      port,
      pid: running.pid!,
      location: (share, sub) => `smb://127.0.0.1:${port}/${share}/${sub ? `${sub.replace(/^\/|\/$/g, "")}/` : ""}`,
      stop: async () => {
        await kill(running);
        fs.rmSync(root, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (child) await kill(child);
    fs.rmSync(root, { recursive: true, force: true });
    throw err;
  }
}

function smbConf(root: string, port: number, shares: SambaOptions["shares"]): string {
  const global = `[global]
  server role = standalone server
  smb ports = ${port}
  interfaces = 127.0.0.1
  bind interfaces only = yes
  disable netbios = yes
  server min protocol = SMB2_10
  private dir = ${root}/private
  lock directory = ${root}/lock
  state directory = ${root}/state
  cache directory = ${root}/cache
  pid directory = ${root}/pid
  ncalrpc dir = ${root}/ncalrpc
  log file = ${root}/log/smbd.log
  passdb backend = tdbsam:${root}/private/passdb.tdb
  map to guest = never
  usershare path =
  load printers = no
  printing = bsd
  printcap name = /dev/null
  disable spoolss = yes
  rpc start on demand helpers = no
`;
  const sections = Object.entries(shares).map(([name, share]) => {
    const { path: dir, readOnly = false } = typeof share === "string" ? { path: share } : share;
    return `[${name}]\n  path = ${dir}\n  read only = ${readOnly ? "yes" : "no"}\n`;
  });
  return [global, ...sections].join("\n");
}

function addUser(conf: string, username: string, password: string): void {
  const result = spawnSync("pdbedit", ["-s", conf, "-a", "-u", username, "-t"], {
    input: `${password}\n${password}\n`,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    throw new Error(
      `pdbedit could not add Samba user '${username}' (it must be an existing Unix user; ` +
        `use unixUserName()): ${result.stderr || result.stdout}`,
    );
  }
}


async function waitForPort(port: number, child: ChildProcess, output: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`smbd exited (${child.exitCode ?? child.signalCode}) before listening:\n${output()}`);
    }
    if (await accepts(port)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`smbd did not listen on 127.0.0.1:${port} within ${START_TIMEOUT_MS / 1000} s:\n${output()}`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
