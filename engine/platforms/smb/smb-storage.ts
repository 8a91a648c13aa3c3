import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { DiskFormat, DiskSource, openRangedSource, RANGED_FORMATS } from "../../disk";
import { jobFailure } from "../../errors";
import { packageRoot } from "../../package-root";
import { assertFileName, SmbLocation } from "../location";
import { openLocalCopy } from "../open-input";
import { outputExists } from "../output-exists";
import { checkJobId, partialName } from "../partial-names";
import { FileStat, LocalCopy, StagedOutput, StageOptions, Storage, TransferOptions } from "../storage";
import { SmbCredential } from "./credential";
import { isNotFound, smbFailure, SmbContext, SmbOperation } from "./failures";
import { watchDownload } from "./progress";
import { quoteSmbName } from "./quote";
import { checkReachable } from "./reachable";
import { openRemoteFile, RemoteFileSettings } from "./remote-file";
import { runSmbclient, SmbclientResult, SmbclientSettings, SmbToolFailure } from "./smbclient";
import { runSparsePut, SparsePutSettings } from "./sparse-put";

// smb:// shares through the smbclient binary, one connection per operation; uploads through
// smb-sparse-put (sparse-put.ts), which sends only data; inputs of the formats the engine can
// lay out itself are read in place by ranges through smb-read (remote-file.ts), others are
// downloaded first. An output is uploaded as
// `.<name>.<jobId>.partial`, its remote size checked, then renamed to its name, so it never
// appears under that name incomplete.

export interface SmbStorageOptions {
  /** Bound on the TCP connect to the server. Default 10 s. */
  connectTimeoutMs?: number;
  /** smbclient's per-operation timeout (-t). Default 60 s. */
  operationTimeoutSec?: number;
  /** The smbclient binary. Default "smbclient" on PATH. */
  smbclient?: string;
  /** The smb-sparse-put binary (native/smb-sparse-put.c). Default: native/build/smb-sparse-put, built by scripts/setup. */
  sparsePut?: string;
  /** The smb-read binary (native/smb-read.c). Default: native/build/smb-read, built by scripts/setup. */
  smbRead?: string;
}

/** Where scripts/setup builds the writer. */
export const DEFAULT_SPARSE_PUT = path.join(packageRoot() ?? ".", "native", "build", "smb-sparse-put");
/** Where scripts/setup builds the reader. */
export const DEFAULT_SMB_READ = path.join(packageRoot() ?? ".", "native", "build", "smb-read");

/** Bound on cleanup that runs after a failure or cancel, when the job's own signal may be aborted. */
const CLEANUP_TIMEOUT_MS = 20_000;

interface RunOptions {
  signal: AbortSignal;
  cwd?: string;
  onSpawn?(pid: number): void;
}

export class SmbStorage implements Storage {
  readonly uri: string;
  private readonly ctx: SmbContext;
  private readonly settings: SmbclientSettings & SparsePutSettings & RemoteFileSettings;
  private readonly connectTimeoutMs: number;

  constructor(location: SmbLocation, credential: SmbCredential, options: SmbStorageOptions = {}) {
    this.uri = location.uri;
    this.ctx = {
      uri: location.uri,
      target: { host: location.host, port: location.port, share: location.share, dir: location.path },
      credential,
    };
    this.settings = {
      operationTimeoutSec: options.operationTimeoutSec ?? 60,
      smbclient: options.smbclient ?? "smbclient",
      sparsePut: options.sparsePut ?? DEFAULT_SPARSE_PUT,
      smbRead: options.smbRead ?? DEFAULT_SMB_READ,
    };
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  }

  async probe(signal: AbortSignal): Promise<void> {
    const op: SmbOperation = { doing: "listing", notFound: "SHARE_PATH_NOT_FOUND", fallback: "SHARE_UNREACHABLE" };
    this.check(await this.run("ls", { signal }), op);
  }

  async stat(name: string, signal: AbortSignal): Promise<FileStat | undefined> {
    const op: SmbOperation = { doing: `reading the attributes of '${name}' in`, name, notFound: "SOURCE_DISK_NOT_FOUND", fallback: "SOURCE_DISK_UNREADABLE" };
    const result = await this.run(`allinfo ${this.quote(name)}`, { signal });
    if (result.failure && isNotFound(result.failure)) return undefined;
    this.check(result, op);
    const attributes = /^attributes: .*\(([0-9a-f]+)\)/m.exec(result.output);
    const isDirectory = attributes !== null && (parseInt(attributes[1]!, 16) & 0x10) !== 0;
    const size = /^stream: \[::\$DATA\], (\d+) bytes/m.exec(result.output);
    if (!isDirectory && size === null) {
      throw jobFailure("SOURCE_DISK_UNREADABLE", `smbclient reported no size for '${name}' in ${this.uri}.`);
    }
    return { size: isDirectory ? 0 : Number(size![1]), isDirectory };
  }

  async fetch(name: string, workDir: string, options: TransferOptions): Promise<LocalCopy> {
    const { signal, onProgress } = options;
    const st = await this.statInput(name, signal);
    const local = path.join(workDir, name);
    const release = () => fs.promises.rm(local, { force: true });
    await release();
    onProgress?.(0, st.size);
    const stop = onProgress ? watchDownload(local, st.size, onProgress) : () => {};
    const op: SmbOperation = { doing: `downloading '${name}' from`, name, notFound: "SOURCE_DISK_NOT_FOUND", fallback: "SOURCE_DISK_UNREADABLE" };
    try {
      const quoted = this.quote(name);
      this.check(await this.run(`get ${quoted} ${quoted}`, { signal, cwd: workDir }), op);
      const got = (await fs.promises.stat(local)).size;
      if (got !== st.size) {
        throw jobFailure("SOURCE_DISK_UNREADABLE", `Downloading '${name}' from ${this.uri} gave ${got} bytes instead of ${st.size}. Retry; check the share for errors.`);
      }
    } catch (err) {
      await release();
      throw err;
    } finally {
      stop();
    }
    onProgress?.(st.size, st.size);
    return { path: local, release };
  }

  async openInput(name: string, format: DiskFormat, workDir: string, options: TransferOptions): Promise<DiskSource> {
    const { signal, onProgress } = options;
    if (RANGED_FORMATS.includes(format)) {
      await this.statInput(name, signal);
      const { host, port } = this.ctx.target;
      await checkReachable(host, port, this.connectTimeoutMs, signal);
      const file = await openRemoteFile(this.ctx, name, this.settings, signal);
      let source: DiskSource | undefined;
      try {
        source = await openRangedSource(file, format, this.uri + encodeURIComponent(name), signal);
      } finally {
        if (!source) await file.close();
      }
      if (source) {
        onProgress?.(1, 1); // read in place: nothing to download
        return source;
      }
    }
    return openLocalCopy(await this.fetch(name, workDir, options), format, workDir, signal);
  }

  async stage(name: string, options: StageOptions): Promise<StagedOutput> {
    const { jobId, workDir, overwrite = false, signal } = options;
    const partial = partialName(name, jobId);
    this.quote(name);
    await this.checkWriter(); // before any conversion work that could not be uploaded
    const existing = await this.stat(name, signal); // also proves server, credential and directory work
    if (existing && (!overwrite || existing.isDirectory)) throw outputExists(name, this.uri, existing.isDirectory);
    const local = path.join(workDir, partial);
    await fs.promises.writeFile(local, "", { mode: 0o600 });
    let uploaded = false;
    return {
      path: local,
      commit: async (transfer) => {
        uploaded = true;
        await this.upload(workDir, partial, name, overwrite, transfer);
        uploaded = false; // renamed: no remote partial is left to discard
        await fs.promises.rm(local, { force: true });
      },
      discard: async () => {
        await fs.promises.rm(local, { force: true });
        if (uploaded) await this.removeRemote(partial, AbortSignal.timeout(CLEANUP_TIMEOUT_MS));
      },
    };
  }

  async writeSmallFile(name: string, content: string, jobId: string, signal: AbortSignal): Promise<void> {
    const partial = partialName(name, jobId);
    this.quote(name);
    const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), "imageport-smb-small-"));
    try {
      await fs.promises.writeFile(path.join(dir, partial), content, { mode: 0o600 });
      await this.upload(dir, partial, name, true, { signal });
    } finally {
      await fs.promises.rm(dir, { recursive: true, force: true });
    }
  }

  async remove(name: string, signal: AbortSignal): Promise<void> {
    await this.removeRemote(name, signal);
  }

  async removePartials(jobId: string, signal: AbortSignal): Promise<void> {
    // A server-side mask: exactly `.<anything>.<jobId>.partial` (checkJobId keeps it literal).
    const mask = `".*.${checkJobId(jobId)}.partial"`;
    const op: SmbOperation = { doing: `removing the temporary files of job ${jobId} from`, notFound: "SHARE_PATH_NOT_FOUND", fallback: "SHARE_WRITE_FAILED" };
    const result = await this.run(`del ${mask}`, { signal });
    if (result.failure && isNotFound(result.failure)) return;
    this.check(result, op);
  }

  /**
   * Uploads workDir/partial as `partial`, checks the remote size, renames it to `name`.
   * On any failure or abort the remote partial is removed (bounded) before rejecting.
   */
  private async upload(workDir: string, partial: string, name: string, overwrite: boolean, transfer: TransferOptions) {
    const { signal, onProgress } = transfer;
    const localPath = await fs.promises.realpath(path.join(workDir, partial)).catch((err) => {
      throw jobFailure("SHARE_WRITE_FAILED", `The staged output for '${name}' is missing from ${workDir}; nothing to upload.`, err);
    });
    const size = (await fs.promises.stat(localPath)).size;
    const quotedPartial = this.quote(partial);
    const op = (doing: string): SmbOperation => ({ doing, name, notFound: "SHARE_PATH_NOT_FOUND", fallback: "SHARE_WRITE_FAILED" });
    await this.checkWriter();
    try {
      onProgress?.(0, size);
      const { host, port } = this.ctx.target;
      await checkReachable(host, port, this.connectTimeoutMs, signal);
      const progress = onProgress && ((covered: number) => onProgress(covered, size));
      const put = await runSparsePut(this.ctx.target, this.ctx.credential, localPath, partial, this.settings, { signal, onProgress: progress });
      if (put) throw smbFailure(put, this.ctx, op(`uploading '${name}' to`));
      const remote = await this.stat(partial, signal);
      if (remote?.size !== size) {
        throw jobFailure(
          "SHARE_WRITE_FAILED",
          `Uploading '${name}' to ${this.uri} stored ${remote?.size ?? "no"} bytes instead of ${size}; the upload was discarded. Retry; check free space on the share.`,
        );
      }
      const rename = await this.run(`rename ${quotedPartial} ${this.quote(name)}${overwrite ? " -f" : ""}`, { signal });
      this.check(rename, op(`renaming the uploaded file to '${name}' in`));
      onProgress?.(size, size);
    } catch (err) {
      await this.removeRemote(partial, AbortSignal.timeout(CLEANUP_TIMEOUT_MS)).catch(() => {});
      throw err;
    }
  }

  /** Deletes one remote file; missing is fine. Retries briefly while a killed upload's handle closes. */
  private async removeRemote(name: string, signal: AbortSignal): Promise<void> {
    const op: SmbOperation = { doing: `removing '${name}' from`, name, notFound: "SHARE_PATH_NOT_FOUND", fallback: "SHARE_WRITE_FAILED" };
    for (let attempt = 1; ; attempt++) {
      const result = await this.run(`del ${this.quote(name)}`, { signal });
      if (!result.failure || isNotFound(result.failure)) return;
      if (result.failure.status !== "NT_STATUS_SHARING_VIOLATION" || attempt >= 10) this.check(result, op);
      await new Promise((r) => setTimeout(r, 200 * attempt));
    }
  }

  private async run(command: string, options: RunOptions): Promise<SmbclientResult> {
    const { host, port } = this.ctx.target;
    await checkReachable(host, port, this.connectTimeoutMs, options.signal);
    return runSmbclient(this.ctx.target, this.ctx.credential, command, this.settings, options);
  }

  private check(result: SmbclientResult, op: SmbOperation): void {
    const failure: SmbToolFailure | undefined = result.failure;
    if (failure) throw smbFailure(failure, this.ctx, op);
  }

  /** The input's attributes; SOURCE_DISK_NOT_FOUND when it is missing, SOURCE_DISK_UNREADABLE for a directory. */
  private async statInput(name: string, signal: AbortSignal): Promise<FileStat> {
    const st = await this.stat(name, signal);
    if (st === undefined) {
      throw jobFailure("SOURCE_DISK_NOT_FOUND", `The source disk '${name}' does not exist in ${this.uri}. Check the file name and the location.`);
    }
    if (st.isDirectory) {
      throw jobFailure("SOURCE_DISK_UNREADABLE", `The source '${name}' in ${this.uri} is a directory, not a disk file.`);
    }
    return st;
  }

  /** A clear failure when the writer was never built (scripts/setup), instead of a spawn error. */
  private async checkWriter(): Promise<void> {
    const writer = this.settings.sparsePut;
    await fs.promises.access(writer, fs.constants.X_OK).catch((err: NodeJS.ErrnoException) => {
      const failure: SmbToolFailure = { tool: "smb-sparse-put", phase: "tool", line: `${writer}: ${err.code ?? err.message}` };
      throw smbFailure(failure, this.ctx, { doing: "uploading to", notFound: "SHARE_PATH_NOT_FOUND", fallback: "SHARE_WRITE_FAILED" });
    });
  }

  private quote(name: string): string {
    assertFileName(name, true);
    return quoteSmbName(name, this.uri);
  }
}
