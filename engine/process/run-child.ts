// The one way the engine runs an external tool (qemu-img, smbclient): as a child that cannot
// outlive the engine and stops when asked. `setpriv --pdeathsig SIGKILL` makes the kernel kill
// the child if the engine dies (even by SIGKILL); the AbortSignal stops it politely (SIGTERM)
// and then firmly (SIGKILL after KILL_GRACE_MS).

import { spawn } from "node:child_process";
import type { Duplex } from "node:stream";

export interface RunChildOptions {
  signal: AbortSignal;
  cwd?: string;
  /** Receives stdout as it arrives; when given, stdout is not also collected into the result. */
  onStdout?(chunk: string): void;
  /** Like onStdout, as raw bytes (a binary protocol); when given, onStdout is not used. */
  onStdoutBytes?(chunk: Buffer): void;
  /** Called once with a pipe to the child's stdin; without it stdin is empty. */
  onStdin?(stdin: NodeJS.WritableStream): void;
  /** Called once with a two-way channel on the child's fd 3 (a device it reads and writes through the engine). */
  onChannel?(channel: Duplex): void;
  /** Called once the child is running, with its pid (the tool's own pid: setpriv execs it). */
  onSpawn?(pid: number): void;
}

export interface ChildResult {
  /** Exit code, or null when the child was killed by a signal. */
  code: number | null;
  exitSignal: NodeJS.Signals | null;
  stdout: string;
  /** The head of stderr (the first lines say what went wrong), at most OUTPUT_LIMIT. */
  stderr: string;
  /** stdout and stderr interleaved as they arrived, the last OUTPUT_LIMIT at most. */
  output: string;
}

/** How long an aborted child gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;
const OUTPUT_LIMIT = 64 * 1024;

/** The argv a command really runs with (exported so tests can assert on it). */
export function wrappedArgv(command: string, args: readonly string[]): [string, string[]] {
  return ["setpriv", ["--pdeathsig", "SIGKILL", "--", command, ...args]];
}

/**
 * Runs the child to its end and resolves with how it ended, whatever the exit code. Rejects
 * with `signal.reason` once an aborted child has exited, and with the spawn error when setpriv
 * itself cannot start.
 */
export function runChild(command: string, args: readonly string[], options: RunChildOptions): Promise<ChildResult> {
  const { signal, onStdout, onStdoutBytes, onStdin, onChannel, onSpawn } = options;
  if (signal.aborted) return Promise.reject(signal.reason);
  const [file, argv] = wrappedArgv(command, args);

  return new Promise<ChildResult>((resolve, reject) => {
    const child = spawn(file, argv, { cwd: options.cwd, stdio: onChannel ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"] });
    if (onChannel) {
      const channel = child.stdio[3] as Duplex;
      channel.on("error", () => undefined); // the child's exit says why
      onChannel(channel);
    }
    child.stdin.on("error", () => undefined); // EPIPE once the child has exited: its exit says why
    if (onStdin) onStdin(child.stdin);
    else child.stdin.end(); // the child reads end-of-file, as from /dev/null
    let stdout = "";
    let stderr = "";
    let output = "";
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (error: unknown, result?: ChildResult): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      if (killTimer) clearTimeout(killTimer);
      if (error !== undefined) reject(error);
      else resolve(result!);
    };
    const onAbort = (): void => {
      child.kill("SIGTERM");
      killTimer = setTimeout(() => child.kill("SIGKILL"), KILL_GRACE_MS);
    };
    signal.addEventListener("abort", onAbort, { once: true });

    const interleave = (chunk: string) => {
      output += chunk;
      if (output.length > 2 * OUTPUT_LIMIT) output = output.slice(-OUTPUT_LIMIT);
    };
    if (!onStdoutBytes) child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string | Buffer) => {
      if (onStdoutBytes) onStdoutBytes(chunk as Buffer);
      else if (onStdout) onStdout(chunk as string);
      else {
        stdout += chunk as string;
        interleave(chunk as string);
      }
    });
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += chunk.slice(0, OUTPUT_LIMIT - stderr.length);
      interleave(chunk);
    });

    child.on("spawn", () => {
      if (child.pid !== undefined) onSpawn?.(child.pid);
    });
    // Only spawn failures land here (setpriv itself missing); the process never ran.
    child.on("error", (err) => finish(signal.aborted ? signal.reason : err));
    // An aborted child is done when it exits (its pid is gone); a finished one when its output is read.
    child.on("exit", () => {
      if (killTimer) clearTimeout(killTimer);
      if (signal.aborted) {
        child.stdout.destroy();
        child.stderr.destroy();
        finish(signal.reason);
      }
    });
    child.on("close", (code, exitSignal) => {
      if (signal.aborted) finish(signal.reason);
      else finish(undefined, { code, exitSignal, stdout, stderr, output: output.slice(-OUTPUT_LIMIT) });
    });
  });
}
