import { runChild } from "../../process/run-child";
import { withAuthFile } from "./auth-file";
import { SmbCredential } from "./credential";

// One smbclient invocation runs one command. smbclient carries on after a failed command in a
// `-c` list and its exit code is the last command's (`allinfo` of a missing file even exits 0),
// so chaining would hide failures; the outcome is read from its output instead.

export interface SmbTarget {
  host: string;
  port: number;
  share: string;
  /** Directory below the share, as segments (empty: the share root). */
  dir: string[];
}

export interface SmbclientSettings {
  /** smbclient's per-operation timeout (-t), seconds. */
  operationTimeoutSec: number;
  /** Path or name of the smbclient binary. */
  smbclient: string;
}

/** Where in the session the failure happened: it decides which thing the message names. */
export type SmbPhase = "tool" | "connect" | "session" | "tree" | "cd" | "command";

/** A failure reported by smbclient, the writer (sparse-put.ts) or the reader (remote-file.ts). */
export interface SmbToolFailure {
  tool: "smbclient" | "smb-sparse-put" | "smb-read";
  phase: SmbPhase;
  /** smbclient: the NT_STATUS_... name; the writer and reader: the errno name libsmbclient gave (EACCES...). */
  status?: string;
  /** The tool's own line, kept for the cause (never holds the password). */
  line: string;
}

export interface SmbclientResult {
  output: string;
  failure?: SmbToolFailure;
}

export interface RunSmbclientOptions {
  signal: AbortSignal;
  /** smbclient's local directory: the relative local names in `command` resolve against it. */
  cwd?: string;
  onSpawn?(pid: number): void;
}

/** The argv for one command; the password is only in the file `authFile` names. */
export function smbclientArgs(target: SmbTarget, authFile: string, command: string, settings: SmbclientSettings): string[] {
  const args = [
    `//${target.host}/${target.share}`,
    "-p", String(target.port),
    "-m", "SMB3",
    "-A", authFile,
    "-t", String(settings.operationTimeoutSec),
  ];
  if (target.dir.length > 0) args.push("-D", target.dir.join("/"));
  args.push("-c", command);
  return args;
}

export async function runSmbclient(
  target: SmbTarget,
  credential: SmbCredential,
  command: string,
  settings: SmbclientSettings,
  options: RunSmbclientOptions,
): Promise<SmbclientResult> {
  return withAuthFile(credential, async (authFile) => {
    const args = smbclientArgs(target, authFile, command, settings);
    try {
      const { code, output } = await runChild(settings.smbclient, args, options);
      return { output, failure: findFailure(output, code) };
    } catch (err) {
      if (options.signal.aborted) throw err;
      // setpriv itself could not be started (util-linux missing): report it like a missing smbclient.
      return { output: "", failure: { tool: "smbclient", phase: "tool", line: (err as Error).message } };
    }
  });
}

/** The first failure smbclient reported, if any. Listing lines (two leading blanks) are data, not errors. */
export function findFailure(output: string, exitCode: number | null): SmbToolFailure | undefined {
  const lines = output.split("\n").map((l) => l.trimEnd());
  const tool = "smbclient";
  if (exitCode === 127 && lines.some((l) => l.includes("failed to execute"))) {
    return { tool, phase: "tool", line: lines.find((l) => l.includes("failed to execute"))! };
  }
  for (const line of lines) {
    if (line.startsWith("  ") || line.startsWith("putting file ") || line.startsWith("getting file ")) continue;
    const status = /\bNT_STATUS_[A-Z0-9_]+/.exec(line)?.[0];
    if (line.startsWith("do_connect:") || line.startsWith("protocol negotiation failed")) {
      return { tool, phase: "connect", status, line };
    }
    if (status === undefined) continue;
    if (line.startsWith("session setup failed")) return { tool, phase: "session", status, line };
    if (line.startsWith("tree connect failed")) return { tool, phase: "tree", status, line };
    if (line.startsWith("cd ")) return { tool, phase: "cd", status, line };
    return { tool, phase: "command", status, line };
  }
  if (exitCode !== 0) {
    const line = lines.filter((l) => l && !l.startsWith("  ")).pop() ?? `smbclient exited with code ${exitCode}`;
    return { tool, phase: "command", line };
  }
  return undefined;
}
