// The one interface every storage location implements (file:// directories, smb:// shares).
// Jobs read their input from one and write their output to another; nothing
// location-specific leaks into the job code. Implementations: platforms/local, platforms/smb.

import type { DiskFormat, DiskSource } from "../disk";

/** Credential fields a location may need (a UsernamePassword credential for SMB). Never logged. */
export interface StorageCredential {
  id: string;
  type: string;
  fields: Record<string, string>;
}

export interface FileStat {
  size: number;
  /** True when the name is a directory (size is then 0). */
  isDirectory: boolean;
}

/** A local file the caller may read; release() removes it if it was a downloaded copy. */
export interface LocalCopy {
  path: string;
  release(): Promise<void>;
}

/**
 * A place to write one output. The caller writes `path` (a local file), verifies it, then
 * calls commit(), which makes it appear under its final name only when complete; discard()
 * removes every trace. Temporary names carry the job id so a restarted or cancelled job can
 * find and remove its leftovers (Storage.removePartials). A failed or aborted commit leaves no
 * remote temporary file (best effort, bounded); call discard() afterwards to remove the local one.
 */
export interface StagedOutput {
  path: string;
  commit(options: TransferOptions): Promise<void>;
  discard(): Promise<void>;
}

export interface StageOptions {
  /** Carried in temporary names, so removePartials(jobId) finds them. Letters, digits, '-', '_'. */
  jobId: string;
  /** A job-private local directory for downloads and staged uploads. */
  workDir: string;
  /** Replace an existing file of that name on commit; without it commit fails with OUTPUT_EXISTS. */
  overwrite?: boolean;
  signal: AbortSignal;
}

export interface TransferOptions {
  signal: AbortSignal;
  /** Bytes done of bytes total, for progress. */
  onProgress?(done: number, total: number): void;
}

export interface Storage {
  /** The location without credentials, e.g. "smb://127.0.0.1:4445/pvs/store/" or "file:///srv/images/". */
  readonly uri: string;
  /** Connects and checks the directory is listable; throws a coded EngineError otherwise. */
  probe(signal: AbortSignal): Promise<void>;
  /** undefined when the file does not exist. */
  stat(name: string, signal: AbortSignal): Promise<FileStat | undefined>;
  /** A readable local copy of `name` (the file itself for file://; a download into workDir for smb://). */
  fetch(name: string, workDir: string, options: TransferOptions): Promise<LocalCopy>;
  /**
   * `name` as a disk of `format`, read in place where the location and format allow (a local
   * file; raw, fixed VHD and VHDX on a share, by ranges), else from a download into workDir
   * (progress is the download's). Closing the source releases everything it holds.
   */
  openInput(name: string, format: DiskFormat, workDir: string, options: TransferOptions): Promise<DiskSource>;
  /**
   * Stages an output for `name`; see StagedOutput. Fails early with OUTPUT_EXISTS when `name`
   * exists and overwrite is not set (commit checks again, atomically).
   */
  stage(name: string, options: StageOptions): Promise<StagedOutput>;
  /** Writes a small file (e.g. a PVS .pvp) atomically under `name`, replacing an existing one. */
  writeSmallFile(name: string, content: string, jobId: string, signal: AbortSignal): Promise<void>;
  /** Removes `name`; a name that does not exist is not an error. */
  remove(name: string, signal: AbortSignal): Promise<void>;
  /** Removes the temporary files a job with this id left behind (after a crash or a cancel). */
  removePartials(jobId: string, signal: AbortSignal): Promise<void>;
}
