// The disk as Azure's direct upload takes it: a fixed VHD of N MiB + 512 bytes (N MiB at
// least 20), written sparse into the job's scratch directory by engine/disk (qemu-img with
// force_size), with its allocation map so the upload reads only data.

import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../../errors";
import { allocatedExtents, copyFromSource, DiskFormat, DiskSource, Extent } from "../../disk";
import { convertImage } from "../../disk/convert";
import { MiB, roundUp, SECTOR } from "../../disk/formats";
import { inspectImage } from "../../disk/inspect";

/** Azure's smallest upload disk: 20 MiB of data (+ the footer). */
export const MIN_DISK_BYTES = 20 * MiB;
/** Azure's largest upload disk is 32 TiB; a VHD ends at 2040 GiB first (engine/disk refuses beyond). */
export const VHD_FOOTER = SECTOR;

/** The data size of the fixed VHD Azure gets for a disk of this virtual size. */
export function azureDiskBytes(virtualSize: number): number {
  return Math.max(MIN_DISK_BYTES, roundUp(virtualSize, MiB));
}

export interface FixedVhd {
  path: string;
  /** The source's virtual size (the hashed content). */
  contentSize: number;
  /** N MiB: the managed disk's size. */
  diskSizeBytes: number;
  /** N MiB + 512: the file's size and the disk's uploadSizeBytes. */
  fileSize: number;
  extents: Extent[];
  release(): Promise<void>;
}

export async function makeFixedVhd(
  source: string,
  format: DiskFormat,
  workDir: string,
  signal: AbortSignal,
  onProgress?: (fraction: number) => void,
): Promise<FixedVhd> {
  const image = await inspectImage(source, format, signal, "source");
  return writeFixedVhd(source, image.virtualSize, workDir, signal, (target, size) =>
    convertImage(image, { source: { path: image.path, format: image.format }, target, size, signal, ...(onProgress ? { onProgress } : {}) }),
  );
}

/** The same from any DiskSource (a VM's disk on vCenter): copied over NBD, only its data read and written. */
export function makeFixedVhdFromSource(source: DiskSource, workDir: string, signal: AbortSignal, onProgress?: (fraction: number) => void): Promise<FixedVhd> {
  return writeFixedVhd(source.name, source.virtualSize, workDir, signal, (target, size) =>
    copyFromSource(source, { target, size, workDir, signal, ...(onProgress ? { onProgress } : {}) }),
  );
}

async function writeFixedVhd(
  name: string,
  contentSize: number,
  workDir: string,
  signal: AbortSignal,
  write: (target: { path: string; format: "vhd"; subformat: "fixed" }, size: number) => Promise<{ virtualSize: number; fileSize: number }>,
): Promise<FixedVhd> {
  const diskSizeBytes = azureDiskBytes(contentSize);
  await fs.mkdir(workDir, { recursive: true });
  const path = nodePath.join(workDir, `.imageport-azure-${randomUUID()}.vhd`);
  const release = () => fs.rm(path, { force: true });
  try {
    const written = await write({ path, format: "vhd", subformat: "fixed" }, diskSizeBytes);
    const fileSize = diskSizeBytes + VHD_FOOTER;
    if (written.virtualSize !== diskSizeBytes || written.fileSize !== fileSize) {
      throw jobFailure("OUTPUT_VERIFICATION_FAILED", `The fixed VHD made for Azure from '${name}' is ${written.fileSize} bytes, not ${fileSize} (N MiB + 512).`);
    }
    // The VHD file read as raw: its holes are the zero ranges, the footer is data.
    const extents = await allocatedExtents(path, "raw", signal);
    return { path, contentSize, diskSizeBytes, fileSize, extents, release };
  } catch (error) {
    await release();
    throw error;
  }
}
