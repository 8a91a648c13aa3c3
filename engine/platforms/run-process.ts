import { spawn } from "node:child_process";

// A small private spawn for the storage drivers (engine/disk's runTool did not exist yet when
// this was written): the child runs under `setpriv --pdeathsig SIGKILL` so it dies with the
// engine, and an abort kills it (SIGTERM, SIGKILL after 2 s) before rejecting with the reason.

export interface RunOptions {
  signal: AbortSignal;
  cwd?: string;
  /** Called once the child exists (setpriv execs the tool, so this is the tool's pid). */
  onSpawn?(pid: number): void;
}

export interface RunResult {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** stdout and stderr interleaved as they arrived, the last 64 KiB at most. */
  output: string;
}

const KILL_GRACE_MS = 2_000;
const MAX_OUTPUT = 64 * 1024;

/** The argv a command really runs with (exported so tests can assert on it). */
export function wrappedArgv(command: string, args: readonly string[]): [string, string[]] {
  return ["setpriv", ["--pdeathsig", "SIGKILL", "--", command, ...args]];
}

export function runProcess(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const { signal } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  const [file, argv] = wrappedArgv(command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(file, argv, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (output.length > 2 * MAX_OUTPUT) output = output.slice(-MAX_OUTPUT);
    };
    child.stdout.on("data", collect);
    child.stderr.on("data", collect);

    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });

    child.once("spawn", () => options.onSpawn?.(child.pid!));
    child.once("error", (err) => {
      signal.removeEventListener("abort", onAbort);
      reject(err);
    });
    child.once("close", (code) => {
      signal.removeEventListener("abort", onAbort);
      clearTimeout(killTimer);
      if (signal.aborted) reject(signal.reason);
      else resolve({ code, output: output.slice(-MAX_OUTPUT) });
    });
  });
}
