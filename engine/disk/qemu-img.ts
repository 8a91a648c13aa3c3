// The one place that runs qemu-img, and the mapping of its failures onto engine error codes.

import { jobFailure } from "../errors";
import { runTool, ToolError, ToolResult } from "./spawn";

export const QEMU_IMG = "qemu-img";

export function qemuImg(
  args: readonly string[],
  signal: AbortSignal,
  onStdout?: (chunk: string) => void,
): Promise<ToolResult> {
  return runTool(QEMU_IMG, args, { signal, onStdout });
}

/** qemu-img's first stderr line without its "qemu-img: Could not open '<path>': " preamble. */
export function qemuReason(error: ToolError): string {
  const cleaned = error.reason
    .replace(/^qemu-img:\s*/, "")
    .replace(/Could not open '[^']*':\s*/g, "")
    .trim();
  return cleaned || error.reason;
}

/**
 * Turns a qemu-img failure into DISK_TOOL_FAILED naming what was being done; anything else
 * (an abort reason, an EngineError already coded) passes through unchanged.
 */
export function toDiskToolFailure(what: string, error: unknown): unknown {
  if (!(error instanceof ToolError)) return error;
  if (error.toolMissing) {
    return jobFailure(
      "DISK_TOOL_FAILED",
      `Could not ${what}: qemu-img (or setpriv) is not installed on the engine host (${error.reason}). ` +
        `Install Debian's qemu-utils and util-linux packages.`,
      error,
    );
  }
  return jobFailure(
    "DISK_TOOL_FAILED",
    `Could not ${what}: qemu-img failed: ${qemuReason(error)}. Check that the disk is intact and that the ` +
      `engine's work directory has free space.`,
    error,
  );
}

/** Runs `body` and maps a qemu-img failure with toDiskToolFailure. */
export async function withToolFailure<T>(what: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw toDiskToolFailure(what, error);
  }
}

