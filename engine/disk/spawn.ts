// Runs a disk tool (engine/process/run-child.ts) and turns a non-zero exit into a ToolError.

import { ChildResult, runChild, RunChildOptions } from "../process/run-child";

export { KILL_GRACE_MS } from "../process/run-child";

export type RunToolOptions = Omit<RunChildOptions, "cwd">;

export interface ToolResult {
  stdout: string;
  stderr: string;
}

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

export async function runTool(command: string, args: readonly string[], options: RunToolOptions): Promise<ToolResult> {
  let result: ChildResult;
  try {
    result = await runChild(command, args, options);
  } catch (err) {
    if (options.signal.aborted) throw err;
    throw new ToolError(command, null, null, String((err as Error).message), { cause: err });
  }
  if (result.code !== 0) throw new ToolError(command, result.code, result.exitSignal, result.stderr);
  return { stdout: result.stdout, stderr: result.stderr };
}
