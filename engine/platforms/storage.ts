// The one interface every storage location implements (file:// directories, smb:// shares).
// Jobs read their input from one and write their output to another; nothing
// location-specific leaks into the job code. Implementations: platforms/local, platforms/smb.

/** Credential fields a location may need (a UsernamePassword credential for SMB). Never logged. */
export interface StorageCredential {
  id: string;
  type: string;
  fields: Record<string, string>;
}

export interface FileStat {
  size: number;
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
 * find and remove its leftovers (Storage.removePartials).
 */
export interface StagedOutput {
  path: string;
  commit(options: TransferOptions): Promise<void>;
  discard(): Promise<void>;
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
  /** Stages an output for `name`; see StagedOutput. */
  stage(name: string, jobId: string, workDir: string): Promise<StagedOutput>;
  /** Writes a small file (e.g. a PVS .pvp) atomically under `name`. */
  writeSmallFile(name: string, content: string, jobId: string, signal: AbortSignal): Promise<void>;
  remove(name: string, signal: AbortSignal): Promise<void>;
  /** Removes the temporary files a job with this id left behind (after a crash or a cancel). */
  removePartials(jobId: string, signal: AbortSignal): Promise<void>;
}
