// Runs an external tool as a child that cannot outlive the engine and stops when asked.
// `setpriv --pdeathsig SIGKILL` makes the kernel kill the child if the engine dies (even by
// SIGKILL); the AbortSignal stops it politely (SIGTERM) and then firmly (SIGKILL after 2 s).

import { spawn } from "node:child_process";

export interface RunToolOptions {
  signal: AbortSignal;
  /** Receives stdout as it arrives; when given, stdout is not also collected into the result. */
  onStdout?(chunk: string): void;
  /** Called once the child is running, with its pid (the tool's own pid: setpriv execs it). */
  onSpawn?(pid: number): void;
}

export interface ToolResult {
  stdout: string;
  stderr: string;
}

/** How long an aborted child gets between SIGTERM and SIGKILL. */
export const KILL_GRACE_MS = 2000;

/** Only the head of stderr is kept: the first lines say what went wrong, and memory stays bounded. */
const STDERR_LIMIT = 64 * 1024;

/** A tool exited non-zero (or could not be started). Callers map it to a coded EngineError. */
export class ToolError extends Error {
  override readonly name = "ToolError";

  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    readonly stderr: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${command} ${exitCode !== null ? `exited with code ${exitCode}` : `was killed by ${exitSignal}`}` +
        (stderr.trim() ? `: ${firstLine(stderr)}` : ""),
      options,
    );
  }

  /** The first non-empty line of stderr (tools put the reason there), or the exit status. */
  get reason(): string {
    return firstLine(this.stderr) || this.message;
  }

  /** True when the tool itself is missing (setpriv reports exit 127 for a failed exec). */
  get toolMissing(): boolean {
    return this.exitCode === 127 || (this.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
  }
}

export function firstLine(text: string): string {
  return (
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.length > 0) ?? ""
  );
}

export function runTool(command: string, args: readonly string[], options: RunToolOptions): Promise<ToolResult> {
  const { signal, onStdout, onSpawn } = options;
  if (signal.aborted) return Promise.reject(signal.reason);

  return new Promise<ToolResult>((resolve, reject) => {
    const child = spawn("setpriv", ["--pdeathsig", "SIGKILL", "--", command, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killTimer: NodeJS.Timeout | undefined;
    let settled = false;

    const finish = (error: unknown, result?: ToolResult): void => {
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

    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      if (onStdout) onStdout(chunk);
      else stdout += chunk;
    });
    child.stderr.on("data", (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk.slice(0, STDERR_LIMIT - stderr.length);
    });

    child.on("spawn", () => {
      if (child.pid !== undefined) onSpawn?.(child.pid);
    });
    child.on("error", (err) => {
      // Only spawn failures land here (setpriv itself missing); the process never ran.
      finish(signal.aborted ? signal.reason : new ToolError(command, null, null, String(err.message), { cause: err }));
    });
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
      else if (code === 0) finish(undefined, { stdout, stderr });
      else finish(new ToolError(command, code, exitSignal, stderr));
    });
  });
}
