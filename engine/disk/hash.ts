// sha256 of a disk's guest content, whatever its format. Reads the image file directly when the
// extent map proves that is exact; otherwise lets qemu-img expand it to a sparse raw file in the
// work directory and hashes that (qemu 7.2 gives no file offsets for vhdx, streamOptimized
// vmdk or compressed qcow2 clusters).

import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { allocatedExtents } from "./extents";
import { DiskFormat, qemuDriver } from "./formats";
import { digestMappedFile, DigestWanted, DiskDigest, directlyReadable } from "./hash-mapped-file";
import { ImageDetails, inspectImage } from "./inspect";
import { forwardProgress, phase, ProgressCallback, qemuProgressParser } from "./progress";
import { qemuImg, toDiskToolFailure } from "./qemu-img";

export interface HashOptions {
  /** Bytes to hash; past the disk's end they count as zeros. Defaults to the virtual size. */
  size?: number;
  /** Where a raw expansion may be written when the image cannot be read directly. */
  workDir: string;
  signal: AbortSignal;
  onProgress?: ProgressCallback;
  /** Instrumentation: every read the hasher makes of an image file (file position, bytes). */
  onRead?(position: number, length: number): void;
}

export async function hashDisk(path: string, format: DiskFormat, options: HashOptions): Promise<string> {
  const image = await inspectImage(path, format, options.signal, "source");
  const { sha256 } = await digestImage(image, { sha256: true, blocks: false }, options);
  return sha256!;
}

/** The wanted digests of a disk already inspected (so the caller chose how failures are reported). */
export async function digestImage(image: ImageDetails, want: DigestWanted, options: HashOptions): Promise<DiskDigest> {
  const { workDir, signal, onRead } = options;
  const size = options.size ?? image.virtualSize;
  if (size < image.virtualSize) {
    throw jobFailure(
      "UNSUPPORTED_OPTION",
      `Cannot hash ${size} bytes of '${image.path}': the disk is larger (${image.virtualSize} bytes). ` +
        `Hash at least its virtual size.`,
    );
  }
  const report = forwardProgress(options.onProgress);
  const extents = await allocatedExtents(image.path, image.format, signal);

  if (!image.compressed && directlyReadable(extents, image.virtualSize)) {
    return digestMappedFile(image.path, extents, size, { want, signal, onProgress: report, onRead });
  }

  await ensureWorkDir(workDir);
  const expanded = nodePath.join(workDir, `.imageport-hash-${randomUUID()}.raw`);
  try {
    try {
      await qemuImg(
        ["convert", "-p", "-f", qemuDriver(image.format), "-O", "raw", image.path, expanded],
        signal,
        qemuProgressParser(phase(report, 0, 0.5)),
      );
    } catch (error) {
      throw toDiskToolFailure(`expand '${image.path}' (${image.format}) to raw for hashing`, error);
    }
    const rawExtents = await allocatedExtents(expanded, "raw", signal);
    if (!directlyReadable(rawExtents, image.virtualSize)) {
      throw jobFailure("DISK_TOOL_FAILED", `qemu-img map gave an unusable map of the raw expansion of '${image.path}'.`);
    }
    return await digestMappedFile(expanded, rawExtents, size, { want, signal, onProgress: phase(report, 0.5, 1), onRead });
  } finally {
    await fs.rm(expanded, { force: true });
  }
}

async function ensureWorkDir(workDir: string): Promise<void> {
  try {
    await fs.mkdir(workDir, { recursive: true });
  } catch (error) {
    throw jobFailure(
      "DISK_TOOL_FAILED",
      `The engine's work directory '${workDir}' cannot be used (${(error as NodeJS.ErrnoException).code ?? error}); ` +
        `it is needed to expand the disk for hashing. Point the engine at a writable work directory.`,
      error,
    );
  }
}
