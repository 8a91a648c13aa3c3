// sha256 of a disk's guest content, whatever its format. Reads the image file directly when the
// extent map proves that is exact; otherwise lets qemu-img expand it to a sparse raw file in the
// work directory and hashes that (qemu 7.2 gives no file offsets for streamOptimized vmdk or
// compressed qcow2 clusters; see image-source.ts).
// The reading and hashing run on a thread of their own (hash-workers.ts).

import { jobFailure } from "../errors";
import { DiskFormat } from "./formats";
import { DigestWanted, DiskDigest } from "./hash-mapped-file";
import { digestFileOffThread } from "./hash-workers";
import { openMappedImage } from "./image-source";
import { ImageDetails, inspectImage } from "./inspect";
import { forwardProgress, phase, ProgressCallback } from "./progress";

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
      "DISK_NOT_CONVERTIBLE",
      `Cannot hash ${size} bytes of '${image.path}': the disk is larger (${image.virtualSize} bytes). ` +
        `Hash at least its virtual size.`,
    );
  }
  const report = forwardProgress(options.onProgress);
  const mapped = await openMappedImage(image, { workDir, signal, purpose: "hashing", onProgress: phase(report, 0, 0.5) });
  try {
    return await digestFileOffThread(mapped.path, mapped.extents, size, {
      want,
      signal,
      onProgress: mapped.expanded ? phase(report, 0.5, 1) : report,
      onRead,
    });
  } finally {
    await mapped.release();
  }
}
