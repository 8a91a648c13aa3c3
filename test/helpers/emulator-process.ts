// One way to run an emulator for tests: a child process on 127.0.0.1 that dies with the test
// process (setpriv --pdeathsig, even on SIGKILL), waited on until `ready` says so within a
// deadline, and stopped by its pid (SIGTERM, then SIGKILL after 2 s).

import { ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export interface EmulatorProcess {
  pid: number;
  stop(): Promise<void>;
}

export interface EmulatorSpec {
  /** For messages: "moto_server". */
  name: string;
  command: string;
  args: string[];
  /** True once the emulator serves; given its output so far (stdout and stderr, last 4000 chars). */
  ready(output: string): Promise<boolean> | boolean;
  timeoutMs: number;
  /** Added to this process's environment for the emulator (e.g. a private TMPDIR). */
  env?: Record<string, string>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** True when `url` answers 2xx within a second (false while nothing listens). */
export async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { signal: AbortSignal.timeout(1000) })).ok;
  } catch {
    return false;
  }
}

export async function startEmulator(spec: EmulatorSpec): Promise<EmulatorProcess> {
  const child: ChildProcess = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", spec.command, ...spec.args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...spec.env },
  });
  let output = "";
  const collect = (d: Buffer) => (output = (output + d.toString()).slice(-4000));
  child.stdout!.on("data", collect);
  child.stderr!.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(killer);
  };
  const deadline = Date.now() + spec.timeoutMs;
  while (!(await spec.ready(output))) {
    if (child.exitCode !== null) throw new Error(`${spec.name} exited with ${child.exitCode}: ${output}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${spec.name} did not start within ${spec.timeoutMs / 1000} s: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { pid: child.pid!, stop };
}
