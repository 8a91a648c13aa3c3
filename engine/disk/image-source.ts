// A local image file of any format as a DiskSource. Reads go straight to the image file at the
// offsets its extent map gives when that map covers every byte (raw, qcow2, monolithicSparse
// vmdk, vhd, vhdx through its own allocation table); otherwise (compressed qcow2 clusters,
// streamOptimized vmdk) qemu-img first expands the disk into a sparse raw file in the work
// directory, which writes only the data, and reads go to that file.

import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { allocatedExtents, Extent } from "./extents";
import { DiskFormat, qemuDriver } from "./formats";
import { directlyReadable } from "./hash-mapped-file";
import { ImageDetails, inspectImage } from "./inspect";
import { ProgressCallback, qemuProgressParser } from "./progress";
import { qemuImg, toDiskToolFailure } from "./qemu-img";
import { ExtentSource, ReadInto } from "./extent-source";
import { DiskSource } from "./source";

/** A file in which every byte of a disk is found through `extents` (they satisfy directlyReadable). */
export interface MappedImage {
  path: string;
  extents: Extent[];
  virtualSize: number;
  /** True when `path` is a raw expansion made in the work directory. */
  expanded: boolean;
  /** Removes the raw expansion, if one was made. */
  release(): Promise<void>;
}

export interface MapImageOptions {
  workDir: string;
  signal: AbortSignal;
  /** What the expansion is for, in messages: "hashing", "the upload". */
  purpose: string;
  /** Progress of the raw expansion, when one is needed. */
  onProgress?: ProgressCallback;
}

/**
 * The image file itself when its extent map gives every data offset, else a sparse raw
 * expansion in `workDir` (qemu-img writes only the data).
 */
export async function openMappedImage(image: ImageDetails, options: MapImageOptions): Promise<MappedImage> {
  const { workDir, signal } = options;
  const extents = await allocatedExtents(image.path, image.format, signal);
  if (!image.compressed && directlyReadable(extents, image.virtualSize)) {
    return { path: image.path, extents, virtualSize: image.virtualSize, expanded: false, release: async () => undefined };
  }
  try {
    await fs.mkdir(workDir, { recursive: true });
  } catch (error) {
    throw jobFailure(
      "DISK_TOOL_FAILED",
      `The engine's work directory '${workDir}' cannot be used (${(error as NodeJS.ErrnoException).code ?? error}); ` +
        `it is needed to expand the disk for ${options.purpose}. Point the engine at a writable work directory.`,
      error,
    );
  }
  const expanded = nodePath.join(workDir, `.imageport-raw-${randomUUID()}.raw`);
  const release = () => fs.rm(expanded, { force: true });
  try {
    try {
      await qemuImg(
        ["convert", "-p", "-f", qemuDriver(image.format), "-O", "raw", image.path, expanded],
        signal,
        options.onProgress ? qemuProgressParser(options.onProgress) : undefined,
      );
    } catch (error) {
      throw toDiskToolFailure(`expand '${image.path}' (${image.format}) to raw for ${options.purpose}`, error);
    }
    const rawExtents = await allocatedExtents(expanded, "raw", signal);
    if (!directlyReadable(rawExtents, image.virtualSize)) {
      throw jobFailure("DISK_TOOL_FAILED", `qemu-img map gave an unusable map of the raw expansion of '${image.path}'.`);
    }
    return { path: expanded, extents: rawExtents, virtualSize: image.virtualSize, expanded: true, release };
  } catch (error) {
    await release();
    throw error;
  }
}

/** A local disk image as a DiskSource (see the header). Close it to remove any raw expansion. */
export async function openImageSource(path: string, format: DiskFormat, workDir: string, signal: AbortSignal): Promise<DiskSource> {
  const image = await inspectImage(path, format, signal, "source");
  const mapped = await openMappedImage(image, { workDir, signal, purpose: "reading" });
  try {
    const file = await fs.open(mapped.path, "r");
    const readInto: ReadInto = async (out, outOffset, length, position) => (await file.read(out, outOffset, length, position)).bytesRead;
    const release = async () => {
      await file.close().catch(() => undefined);
      await mapped.release();
    };
    const localFile = { path: mapped.path, format: mapped.expanded ? "raw" : format, extents: mapped.extents };
    return new ExtentSource(path, mapped.virtualSize, mapped.extents, readInto, release, localFile);
  } catch (error) {
    await mapped.release();
    throw error;
  }
}
