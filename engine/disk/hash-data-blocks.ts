// The block digest of an image file's content, split over threads: each thread hashes the
// 1 MiB blocks of one slice of the disk that hold data, read at their file offsets through the
// extent map (synchronous reads: a hashing thread has nothing else to do), and the (index,
// sha256) pairs are joined in index order into the digest block-digest.ts defines. Blocks
// without data extents are never looked at, so a 1 TiB disk holding 1 GiB costs 1 GiB.
//
// With `compare`, a second file (a copy's output) is read block by block beside the first and
// must hold the same bytes: the copy is proven with one read of each side and one sha256 pass,
// instead of a digest of each.

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

export interface SliceResult {
  blocks: BlockHash[];
  /** With `compare`: the first block whose bytes differ between the two files. */
  mismatch?: number;
}

export interface HashSliceOptions {
  /** A second file that must hold the same content; its blocks are compared, not hashed. */
  compare?: MappedFile;
  /** Data bytes hashed so far in this slice. */
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

/** The sha256 of every block of `slice` that holds non-zero data, in index order (and, with `compare`, the other file checked against it). */
export function hashSlice(file: MappedFile, size: number, slice: BlockSlice, options: HashSliceOptions = {}): SliceResult {
  const source = new BlockReader(file, size);
  const other = options.compare ? new BlockReader(options.compare, size) : undefined;
  const buf = Buffer.alloc(DIGEST_BLOCK);
  const otherBuf = other ? Buffer.alloc(DIGEST_BLOCK) : undefined;
  const zeros = Buffer.alloc(DIGEST_BLOCK);
  const hashes: BlockHash[] = [];
  let done = 0;
  try {
    let blocks = source.blocks(slice.fromBlock, slice.toBlock);
    if (other) blocks = mergeBlocks(blocks, other.blocks(slice.fromBlock, slice.toBlock));
    for (const block of blocks) {
      const start = block * DIGEST_BLOCK;
      const length = Math.min(size, start + DIGEST_BLOCK) - start;
      const piece = buf.subarray(0, length);
      done += source.fill(piece, start, options.onRead);
      if (other) {
        const theirs = otherBuf!.subarray(0, length);
        other.fill(theirs, start);
        if (!piece.equals(theirs)) return { blocks: hashes, mismatch: block };
      }
      if (!piece.equals(zeros.subarray(0, length))) hashes.push({ index: block, hash: createHash("sha256").update(piece).digest() });
      options.onProgress?.(done);
    }
  } finally {
    source.close();
    other?.close();
  }
  return { blocks: hashes };
}
