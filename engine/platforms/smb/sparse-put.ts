import { runChild } from "../../process/run-child";
import { withAuthFile } from "./auth-file";
import { SmbCredential } from "./credential";
import { SmbTarget, SmbToolFailure } from "./smbclient";

// The writer for uploads: native/smb-sparse-put.c over libsmbclient, built by scripts/setup.
// It sends only the local file's non-zero data (holes and zero blocks are skipped, the size is
// set at the end), so the share stores holes as holes; smbclient put would send them as zeros.
// Credentials go in the same 0600 auth file smbclient's -A reads.

export interface SparsePutSettings {
  /** Per-operation timeout, seconds (like smbclient's -t). */
  operationTimeoutSec: number;
  /** Path of the smb-sparse-put binary. */
  sparsePut: string;
}

export interface SparsePutOptions {
  signal: AbortSignal;
  /** Bytes of the local file covered so far (data sent or holes skipped). */
  onProgress?(covered: number): void;
}

/** smb://host/share/dir/name, each segment percent-encoded (libsmbclient decodes them); the port goes in -p. */
export function smbFileUrl(target: SmbTarget, name: string): string {
  return `smb://${target.host}/${[target.share, ...target.dir, name].map(encodeURIComponent).join("/")}`;
}

/** The argv for one upload; the password is only in the file `authFile` names. */
export function sparsePutArgs(target: SmbTarget, authFile: string, localPath: string, name: string, settings: SparsePutSettings): string[] {
  return ["-A", authFile, "-p", String(target.port), "-t", String(settings.operationTimeoutSec), localPath, smbFileUrl(target, name)];
}

/** Writes localPath to `name` in the target's directory; resolves with the failure, if any. */
export async function runSparsePut(
  target: SmbTarget,
  credential: SmbCredential,
  localPath: string,
  name: string,
  settings: SparsePutSettings,
  options: SparsePutOptions,
): Promise<SmbToolFailure | undefined> {
  return withAuthFile(credential, async (authFile) => {
    let pending = "";
    const onStdout = (chunk: string) => {
      const lines = (pending + chunk).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        const progress = /^progress (\d+) /.exec(line);
        if (progress) options.onProgress?.(Number(progress[1]));
      }
    };
    try {
      const args = sparsePutArgs(target, authFile, localPath, name, settings);
      const { code, exitSignal, stderr } = await runChild(settings.sparsePut, args, { signal: options.signal, onStdout });
      return code === 0 ? undefined : writerFailure(stderr, code, exitSignal);
    } catch (err) {
      if (options.signal.aborted) throw err;
      return { tool: "smb-sparse-put", phase: "tool", line: (err as Error).message }; // setpriv could not start
    }
  });
}

/** The writer's `error <step> <ERRNO> <text>` line, as a failure smbFailure maps to a job failure code. */
export function writerFailure(stderr: string, code: number | null, exitSignal: NodeJS.Signals | null = null): SmbToolFailure {
  return nativeToolFailure("smb-sparse-put", ["open", "write", "truncate", "close"], stderr, code, exitSignal);
}

/**
 * The `error <step> <ERRNO> <text>` line of a native SMB tool (smb-common.h). Only the
 * `remoteSteps` errno is about the share; the other steps are the engine host's own problem.
 */
export function nativeToolFailure(
  tool: "smb-sparse-put" | "smb-read",
  remoteSteps: readonly string[],
  stderr: string,
  code: number | null,
  exitSignal: NodeJS.Signals | null = null,
): SmbToolFailure {
  const lines = stderr.split("\n").map((l) => l.trimEnd()).filter(Boolean);
  const reported = lines.map((l) => /^error (\w+) (\S+) /.exec(l)).find((m) => m !== null);
  if (reported) {
    const [line, step, errno] = [reported.input, reported[1]!, reported[2]!];
    return { tool, phase: "command", status: remoteSteps.includes(step) && errno !== "-" ? errno : undefined, line };
  }
  // 127: setpriv could not execute it, or the loader found no libsmbclient.
  if (code === 127) return { tool, phase: "tool", line: lines[0] ?? "exit code 127" };
  return { tool, phase: "command", line: lines.pop() ?? (exitSignal ? `killed by ${exitSignal}` : `exited with code ${code}`) };
}
