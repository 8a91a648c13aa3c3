// A local disk read as EBS blocks: 512 KiB pieces of its guest content in index order, found
// through the disk's extent map. Holes are never read; blocks that hold only zeros are counted
// in the content hash but never yielded (EBS treats unwritten blocks as zeros). The sha256 of
// the whole content is computed in the same pass. Memory: one block per yielded block.

import { createHash, randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { allocatedExtents, DiskFormat, Extent, qemuDriver } from "../../disk";
import { directlyReadable } from "../../disk/hash-mapped-file";
import { inspectImage } from "../../disk/inspect";
import { qemuImg, toDiskToolFailure } from "../../disk/qemu-img";

/** The EBS direct API's block size. */
export const EBS_BLOCK = 512 * 1024;
const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK);
const YIELD_EVERY_BLOCKS = 128; // 64 MiB of zeros hashed between turns of the event loop

export interface DataBlock {
  index: number;
  /** Exactly EBS_BLOCK bytes (the last block of the disk is padded with zeros). */
  data: Buffer;
}

/** A disk whose every byte is found through `extents` in the file at `path`. */
export interface BlockSource {
  path: string;
  extents: Extent[];
  virtualSize: number;
  /** Removes the raw expansion, if one was made. */
  release(): Promise<void>;
}

/**
 * Opens a disk for block reads: straight from the image file when its extent map gives every
 * data offset, else from a sparse raw expansion in `workDir` (qemu-img writes only the data).
 */
export async function openBlockSource(path: string, format: DiskFormat, workDir: string, signal: AbortSignal): Promise<BlockSource> {
  const image = await inspectImage(path, format, signal, "source");
  const extents = await allocatedExtents(image.path, image.format, signal);
  if (!image.compressed && directlyReadable(extents, image.virtualSize)) {
    return { path: image.path, extents, virtualSize: image.virtualSize, release: async () => undefined };
  }
  await fs.mkdir(workDir, { recursive: true });
  const expanded = nodePath.join(workDir, `.imageport-ebs-${randomUUID()}.raw`);
  try {
    await qemuImg(["convert", "-f", qemuDriver(image.format), "-O", "raw", image.path, expanded], signal);
  } catch (error) {
    await fs.rm(expanded, { force: true });
    throw toDiskToolFailure(`expand '${image.path}' (${image.format}) to raw for the upload`, error);
  }
  const rawExtents = await allocatedExtents(expanded, "raw", signal);
  if (!directlyReadable(rawExtents, image.virtualSize)) {
    await fs.rm(expanded, { force: true });
    throw jobFailure("DISK_TOOL_FAILED", `qemu-img map gave an unusable map of the raw expansion of '${image.path}'.`);
  }
  return { path: expanded, extents: rawExtents, virtualSize: image.virtualSize, release: () => fs.rm(expanded, { force: true }) };
}

export interface BlockScanOptions {
  signal: AbortSignal;
  /** Called with the sha256 (hex) of the whole content once every block was scanned. */
  onSha256(hex: string): void;
  /** Guest bytes scanned so far (zeros included). */
  onScanned?(bytes: number): void;
}

/** The blocks of `source` that hold data, in index order. */
export async function* dataBlocks(source: BlockSource, options: BlockScanOptions): AsyncGenerator<DataBlock> {
  const { signal } = options;
  const hash = createHash("sha256");
  const size = source.virtualSize;
  const count = Math.ceil(size / EBS_BLOCK);
  const fh = await fs.open(source.path, "r");
  try {
    let e = 0; // the first extent that may overlap the current block
    for (let index = 0; index < count; index++) {
      signal.throwIfAborted();
      const start = index * EBS_BLOCK;
      const end = Math.min(start + EBS_BLOCK, size);
      while (e < source.extents.length && source.extents[e]!.start + source.extents[e]!.length <= start) e++;
      let data: Buffer | undefined;
      for (let i = e; i < source.extents.length; i++) {
        const x = source.extents[i]!;
        if (x.start >= end) break;
        if (x.zero) continue;
        const from = Math.max(start, x.start);
        const to = Math.min(end, x.start + x.length);
        data ??= Buffer.alloc(EBS_BLOCK);
        await readFully(fh, data, from - start, to - from, x.offset! + (from - x.start));
      }
      const content = (data ?? ZERO_BLOCK).subarray(0, end - start);
      hash.update(content);
      options.onScanned?.(end);
      if (data && !data.equals(ZERO_BLOCK)) yield { index, data };
      else if (index % YIELD_EVERY_BLOCKS === 0) await yieldToLoop();
    }
    options.onSha256(hash.digest("hex"));
  } finally {
    await fh.close();
  }
}

/** Reads `length` bytes at `position` into buf[at..]; past the file's end the rest stays zero (as qemu reads it). */
async function readFully(fh: fs.FileHandle, buf: Buffer, at: number, length: number, position: number): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, at + filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
}
