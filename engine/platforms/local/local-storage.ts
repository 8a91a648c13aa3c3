import * as fs from "node:fs";
import * as path from "node:path";
import type { DiskFormat, DiskSource } from "../../disk";
import { jobFailure } from "../../errors";
import { assertFileName, FileLocation } from "../location";
import { openLocalCopy } from "../open-input";
import { outputExists } from "../output-exists";
import { isPartialOf, partialName } from "../partial-names";
import { FileStat, LocalCopy, StagedOutput, StageOptions, Storage, TransferOptions } from "../storage";
import { assertAllowedPath } from "./file-roots";
import { errnoOf, fsFailure } from "./fs-failure";

// file:// directories on the engine host. Outputs are written next to their final name as
// `.<name>.<jobId>.partial` (same file system, so commit is a rename, never a copy).

/** Outputs are readable by the owner and the group (the PVS or hypervisor service account's), nobody else. */
export const OUTPUT_MODE = 0o640;

export class LocalStorage implements Storage {
  readonly uri: string;
  private readonly dir: string;

  constructor(location: FileLocation) {
    this.uri = location.uri;
    this.dir = location.dir;
  }

  /** Every operation starts here: the directory, resolved, must lie under the file roots (file-roots.ts). */
  private confine(): void {
    assertAllowedPath(this.dir, `The location ${this.uri}`);
  }

  async probe(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.confine();
    const handle = await fs.promises.opendir(this.dir).catch((err) => {
      throw this.dirFailure(err);
    });
    await handle.close();
  }

  async stat(name: string, signal: AbortSignal): Promise<FileStat | undefined> {
    signal.throwIfAborted();
    this.confine();
    assertAllowedPath(this.file(name), `'${name}' in ${this.uri}`); // a symlink out of the roots
    try {
      const st = await fs.promises.stat(this.file(name));
      return { size: st.isDirectory() ? 0 : st.size, isDirectory: st.isDirectory() };
    } catch (err) {
      if (errnoOf(err) === "ENOENT" || errnoOf(err) === "ENOTDIR") return undefined;
      throw fsFailure(err, this.describe(name), "SOURCE_DISK_UNREADABLE");
    }
  }

  async fetch(name: string, _workDir: string, options: TransferOptions): Promise<LocalCopy> {
    options.signal.throwIfAborted();
    const file = this.file(name);
    const st = await this.stat(name, options.signal);
    if (st === undefined) {
      await this.probe(options.signal); // a missing directory is reported as such
      throw jobFailure(
        "SOURCE_DISK_NOT_FOUND",
        `The source disk '${name}' does not exist in ${this.uri}. Check the file name and the location.`,
      );
    }
    if (st.isDirectory) {
      throw jobFailure("SOURCE_DISK_UNREADABLE", `The source '${name}' in ${this.uri} is a directory, not a disk file.`);
    }
    await fs.promises.access(file, fs.constants.R_OK).catch((err) => {
      throw fsFailure(err, this.describe(name), "SOURCE_DISK_UNREADABLE");
    });
    options.onProgress?.(st.size, st.size);
    return { path: file, release: async () => {} };
  }

  async openInput(name: string, format: DiskFormat, workDir: string, options: TransferOptions): Promise<DiskSource> {
    return openLocalCopy(await this.fetch(name, workDir, options), format, workDir, options.signal);
  }

  async stage(name: string, options: StageOptions): Promise<StagedOutput> {
    const { jobId, overwrite = false, signal } = options;
    const file = this.file(name);
    const partial = this.file(partialName(name, jobId));
    await this.probe(signal);
    const existing = await this.stat(name, signal);
    if (existing && (!overwrite || existing.isDirectory)) throw outputExists(name, this.uri, existing.isDirectory);
    // Create it now: a permission problem shows before any conversion work is done.
    await fs.promises.writeFile(partial, "", { mode: OUTPUT_MODE }).catch((err) => {
      throw fsFailure(err, this.describe(partialName(name, jobId)), "SHARE_WRITE_FAILED");
    });
    return {
      path: partial,
      commit: (transfer) => this.commit(name, partial, file, overwrite, transfer),
      discard: () => fs.promises.rm(partial, { force: true }),
    };
  }

  async writeSmallFile(name: string, content: string, jobId: string, signal: AbortSignal): Promise<void> {
    assertFileName(name);
    signal.throwIfAborted();
    this.confine();
    const partial = this.file(partialName(name, jobId));
    try {
      await fs.promises.writeFile(partial, content, { mode: OUTPUT_MODE, flush: true });
      await fs.promises.rename(partial, this.file(name));
    } catch (err) {
      await fs.promises.rm(partial, { force: true });
      throw this.writeFailure(err, name);
    }
  }

  async remove(name: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.confine();
    await fs.promises.rm(this.file(name), { force: true }).catch((err) => {
      throw fsFailure(err, this.describe(name), "SHARE_WRITE_FAILED");
    });
  }

  async removePartials(jobId: string, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    this.confine();
    const entries = await fs.promises.readdir(this.dir, { withFileTypes: true }).catch((err) => {
      throw this.dirFailure(err);
    });
    for (const entry of entries) {
      if (!entry.isFile() || !isPartialOf(entry.name, jobId)) continue;
      await fs.promises.rm(path.join(this.dir, entry.name), { force: true }).catch((err) => {
        throw fsFailure(err, this.describe(entry.name), "SHARE_WRITE_FAILED");
      });
    }
  }

  private async commit(name: string, partial: string, file: string, overwrite: boolean, options: TransferOptions) {
    options.signal.throwIfAborted();
    let size: number;
    try {
      // Flush the data before the name appears, so a crash never leaves a complete-looking torn file.
      const handle = await fs.promises.open(partial, "r+");
      try {
        size = (await handle.stat()).size;
        // Disks hold whole systems: owner and group only, whatever umask qemu-img ran with.
        await handle.chmod(OUTPUT_MODE);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (errnoOf(err) === "ENOENT") {
        throw jobFailure("SHARE_WRITE_FAILED", `The staged output for '${name}' in ${this.uri} vanished before commit (${partial}).`, err);
      }
      throw this.writeFailure(err, name);
    }
    options.onProgress?.(0, size);
    options.signal.throwIfAborted();
    try {
      if (overwrite) await fs.promises.rename(partial, file);
      else await renameNoReplace(partial, file);
    } catch (err) {
      if (errnoOf(err) === "EEXIST") throw outputExists(name, this.uri, false);
      throw this.writeFailure(err, name);
    }
    options.onProgress?.(size, size);
  }

  private file(name: string): string {
    assertFileName(name);
    return path.join(this.dir, name);
  }

  private describe(name: string): string {
    return `'${name}' in ${this.uri}`;
  }

  private dirFailure(err: unknown) {
    const code = errnoOf(err);
    if (code === "ENOENT" || code === "ENOTDIR") {
      return jobFailure(
        "SHARE_PATH_NOT_FOUND",
        `The directory ${this.dir} of location ${this.uri} does not exist (or is not a directory). ` +
          `Create it on the engine host or correct the location.`,
        err,
      );
    }
    return fsFailure(err, `directory ${this.dir} of location ${this.uri}`, "SHARE_PATH_NOT_FOUND");
  }

  private writeFailure(err: unknown, name: string) {
    return fsFailure(err, this.describe(name), "SHARE_WRITE_FAILED");
  }
}

/**
 * Atomic "rename unless the target exists": link() fails with EEXIST instead of replacing.
 * File systems without hard links fall back to check-then-rename (a small race, noted).
 */
async function renameNoReplace(from: string, to: string): Promise<void> {
  try {
    await fs.promises.link(from, to);
  } catch (err) {
    const code = errnoOf(err);
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "EMLINK") throw err;
    const exists = await fs.promises.lstat(to).then(
      () => true,
      (e) => (errnoOf(e) === "ENOENT" ? false : Promise.reject(e)),
    );
    if (exists) throw Object.assign(new Error(`${to} exists`), { code: "EEXIST" });
    await fs.promises.rename(from, to);
    return;
  }
  await fs.promises.unlink(from);
}
