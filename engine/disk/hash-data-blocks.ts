// The block digest of an image file's content, split over threads: each thread hashes the
// 1 MiB blocks of one slice of the disk that hold data, read at their file offsets through the
// extent map (synchronous reads: a hashing thread has nothing else to do), and the (index,
// sha256) pairs are joined in index order into the digest block-digest.ts defines. Blocks
// without data extents are never looked at, so a 1 TiB disk holding 1 GiB costs 1 GiB.
//
// Two files (a copy's source and output) are compared the same way, slice by slice, block by
// block where either holds data: a byte comparison, no hashing.

import { createHash } from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { DIGEST_BLOCK } from "./block-digest";
import { Extent } from "./extents";

/** A run of whole blocks [fromBlock, toBlock) given to one thread. */
export interface BlockSlice {
  fromBlock: number;
  toBlock: number;
  /** Data bytes in the slice (for progress). */
  dataBytes: number;
}

/** An image file and where its guest bytes lie in it (extents that satisfy directlyReadable). */
export interface MappedFile {
  path: string;
  extents: readonly Extent[];
}

/** The extents whose bytes must be read: data that does not read as zeros. */
function dataExtents(extents: readonly Extent[], size: number): Extent[] {
  return extents.filter((e) => !e.zero && e.length > 0 && e.start < size);
}

/** The guest ranges holding data in any of the maps, merged (for slicing only: no file offsets). */
export function unionOfData(maps: readonly (readonly Extent[])[], size: number): Extent[] {
  const all = maps.flatMap((m) => dataExtents(m, size)).sort((a, b) => a.start - b.start);
  const out: Extent[] = [];
  for (const e of all) {
    const last = out[out.length - 1];
    const end = Math.min(size, e.start + e.length);
    if (last && last.start + last.length >= e.start) last.length = Math.max(last.length, end - last.start);
    else out.push({ start: e.start, length: end - e.start, data: true, zero: false });
  }
  return out;
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

export interface SliceOptions {
  /** Data bytes covered so far in this slice. */
  onProgress?(bytes: number): void;
  onRead?(position: number, length: number): void;
}

/** One file's data extents, open, read a block at a time. */
class BlockReader {
  private readonly data: Extent[];
  private readonly fd: number;

  constructor(file: MappedFile, size: number) {
    this.data = dataExtents(file.extents, size);
    this.fd = openSync(file.path, "r");
  }

  /** The blocks in [fromBlock, toBlock) that data extents touch. */
  blocks(fromBlock: number, toBlock: number): number[] {
    const out: number[] = [];
    for (let i = this.firstEndingAfter(fromBlock * DIGEST_BLOCK); i < this.data.length; i++) {
      const e = this.data[i]!;
      const first = Math.max(fromBlock, Math.floor(e.start / DIGEST_BLOCK));
      if (first >= toBlock) break;
      const last = Math.min(toBlock - 1, Math.floor((e.start + e.length - 1) / DIGEST_BLOCK));
      for (let b = Math.max(first, out.length > 0 ? out[out.length - 1]! + 1 : first); b <= last; b++) out.push(b);
    }
    return out;
  }

  /** Fills `piece` with the guest bytes at `start` (zeros where there is no data); returns the data bytes read. */
  fill(piece: Buffer, start: number, onRead?: (position: number, length: number) => void): number {
    piece.fill(0);
    const end = start + piece.length;
    let read = 0;
    for (let i = this.firstEndingAfter(start); i < this.data.length && this.data[i]!.start < end; i++) {
      const e = this.data[i]!;
      const from = Math.max(start, e.start);
      const to = Math.min(end, e.start + e.length);
      let filled = 0;
      while (filled < to - from) {
        const n = readSync(this.fd, piece, from - start + filled, to - from - filled, e.offset! + (from - e.start) + filled);
        if (n === 0) break; // past the file's end the rest reads as zeros, as it does for qemu
        filled += n;
      }
      onRead?.(e.offset! + (from - e.start), filled);
      read += to - from;
    }
    return read;
  }

  close(): void {
    closeSync(this.fd);
  }

  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.data.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.data[mid]!.start + this.data[mid]!.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Merges two sorted lists of block indexes without repeats. */
function mergeBlocks(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let i = 0, j = 0; i < a.length || j < b.length; ) {
    const next = j >= b.length || (i < a.length && a[i]! <= b[j]!) ? a[i++]! : b[j++]!;
    if (out[out.length - 1] !== next) out.push(next);
  }
  return out;
}

/** The sha256 of every block of `slice` that holds non-zero data, in index order. */
export function hashSlice(file: MappedFile, size: number, slice: BlockSlice, options: SliceOptions = {}): BlockHash[] {
  const reader = new BlockReader(file, size);
  const buf = Buffer.alloc(DIGEST_BLOCK);
  const zeros = Buffer.alloc(DIGEST_BLOCK);
  const hashes: BlockHash[] = [];
  let done = 0;
  try {
    for (const block of reader.blocks(slice.fromBlock, slice.toBlock)) {
      const piece = blockOf(buf, block, size);
      done += reader.fill(piece, block * DIGEST_BLOCK, options.onRead);
      if (!piece.equals(zeros.subarray(0, piece.length))) hashes.push({ index: block, hash: createHash("sha256").update(piece).digest() });
      options.onProgress?.(done);
    }
  } finally {
    reader.close();
  }
  return hashes;
}

/** The first block of `slice` where the two files' contents differ, or undefined when they are equal. */
export function compareSlice(a: MappedFile, b: MappedFile, size: number, slice: BlockSlice, options: SliceOptions = {}): number | undefined {
  const readers = [new BlockReader(a, size), new BlockReader(b, size)] as const;
  const bufs = [Buffer.alloc(DIGEST_BLOCK), Buffer.alloc(DIGEST_BLOCK)] as const;
  let done = 0;
  try {
    const blocks = mergeBlocks(readers[0].blocks(slice.fromBlock, slice.toBlock), readers[1].blocks(slice.fromBlock, slice.toBlock));
    for (const block of blocks) {
      const ours = blockOf(bufs[0], block, size);
      const theirs = blockOf(bufs[1], block, size);
      done += readers[0].fill(ours, block * DIGEST_BLOCK, options.onRead);
      readers[1].fill(theirs, block * DIGEST_BLOCK);
      if (!ours.equals(theirs)) return block;
      options.onProgress?.(done);
    }
  } finally {
    readers[0].close();
    readers[1].close();
  }
  return undefined;
}

/** The part of `buf` that block `index` of a disk of `size` bytes fills (the last block may be short). */
function blockOf(buf: Buffer, index: number, size: number): Buffer {
  const start = index * DIGEST_BLOCK;
  return buf.subarray(0, Math.min(size, start + DIGEST_BLOCK) - start);
}
