// The block digest of an image file's content, split over threads: each thread hashes the
// 1 MiB blocks of one slice of the disk that hold data, read at their file offsets through the
// extent map (synchronous reads: a hashing thread has nothing else to do), and the (index,
// sha256) pairs are joined in index order into the digest block-digest.ts defines. Blocks
// without data extents are never looked at, so a 1 TiB disk holding 1 GiB costs 1 GiB.

import { closeSync, openSync, readSync } from "node:fs";
import { DIGEST_BLOCK } from "./block-digest";
import { Extent } from "./extents";
import { createHash } from "node:crypto";

/** A run of whole blocks [fromBlock, toBlock) given to one thread. */
export interface BlockSlice {
  fromBlock: number;
  toBlock: number;
  /** Data bytes in the slice (for progress). */
  dataBytes: number;
}

/** The extents whose bytes must be read: data that does not read as zeros. */
function dataExtents(extents: readonly Extent[], size: number): Extent[] {
  return extents.filter((e) => !e.zero && e.length > 0 && e.start < size);
}

/** Cuts the disk's data into at most `count` slices of whole blocks holding about equal data. */
export function sliceByData(extents: readonly Extent[], size: number, count: number): BlockSlice[] {
  const data = dataExtents(extents, size);
  const total = data.reduce((n, e) => n + Math.min(e.length, size - e.start), 0);
  const slices: BlockSlice[] = [];
  if (total === 0) return slices;
  const share = Math.ceil(total / count);
  let current: BlockSlice | undefined;
  for (const e of data) {
    const end = Math.min(size, e.start + e.length);
    for (let at = e.start; at < end; ) {
      const block = Math.floor(at / DIGEST_BLOCK);
      const blockEnd = Math.min(end, (block + 1) * DIGEST_BLOCK);
      if (!current || (current.dataBytes >= share && block >= current.toBlock)) {
        current = { fromBlock: block, toBlock: block + 1, dataBytes: 0 };
        slices.push(current);
      }
      current.toBlock = block + 1;
      current.dataBytes += blockEnd - at;
      at = blockEnd;
    }
  }
  return slices;
}

export interface BlockHash {
  index: number;
  hash: Buffer;
}

export interface HashSliceOptions {
  /** Data bytes hashed so far in this slice. */
  onProgress?(bytes: number): void;
  onRead?(position: number, length: number): void;
}

/** The sha256 of every block of `slice` that holds non-zero data, in index order. */
export function hashSlice(path: string, extents: readonly Extent[], size: number, slice: BlockSlice, options: HashSliceOptions = {}): BlockHash[] {
  const data = dataExtents(extents, size);
  const buf = Buffer.alloc(DIGEST_BLOCK);
  const zeros = Buffer.alloc(DIGEST_BLOCK);
  const hashes: BlockHash[] = [];
  const fd = openSync(path, "r");
  let done = 0;
  try {
    // The first data extent that ends after the slice's start.
    let i = 0;
    while (i < data.length && data[i]!.start + data[i]!.length <= slice.fromBlock * DIGEST_BLOCK) i++;
    let block = slice.fromBlock;
    while (i < data.length && block < slice.toBlock) {
      // Jump to the first block that the next data extent touches.
      block = Math.max(block, Math.floor(data[i]!.start / DIGEST_BLOCK));
      if (block >= slice.toBlock) break;
      const blockStart = block * DIGEST_BLOCK;
      const blockEnd = Math.min(size, blockStart + DIGEST_BLOCK);
      const piece = buf.subarray(0, blockEnd - blockStart);
      piece.fill(0);
      for (let j = i; j < data.length && data[j]!.start < blockEnd; j++) {
        const e = data[j]!;
        const from = Math.max(blockStart, e.start);
        const to = Math.min(blockEnd, e.start + e.length);
        if (to <= from) continue;
        let filled = 0;
        while (filled < to - from) {
          const n = readSync(fd, piece, from - blockStart + filled, to - from - filled, e.offset! + (from - e.start) + filled);
          if (n === 0) break; // past the file's end the rest reads as zeros, as it does for qemu
          filled += n;
        }
        options.onRead?.(e.offset! + (from - e.start), filled);
        done += to - from;
      }
      if (!piece.equals(zeros.subarray(0, piece.length))) hashes.push({ index: block, hash: createHash("sha256").update(piece).digest() });
      options.onProgress?.(done);
      // Extents that end inside this block are finished with.
      while (i < data.length && data[i]!.start + data[i]!.length <= blockEnd) i++;
      block++;
    }
  } finally {
    closeSync(fd);
  }
  return hashes;
}
