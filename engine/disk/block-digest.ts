// A content digest that costs work only for non-zero data: the disk is cut into 1 MiB blocks,
// all-zero blocks are left out, and every other block contributes (index, sha256 of its bytes).
// Two disks of the same size have equal block digests exactly when their contents are equal
// (up to sha256 collisions), however their zeros are stored, so it can prove a conversion
// without hashing gigabytes of holes. It is an internal check, not a published checksum.
//
// BlockDigest takes the content in order; SparseBlockDigest takes pieces in any order (as
// qemu-img's parallel reads arrive) plus the map of where data may be, and gives the same hex.

import { createHash, Hash } from "node:crypto";
import { jobFailure } from "../errors";
import { firstRangeEndingAfter } from "./data-ranges";
import { hashBlockOffThread } from "./hash-workers";
import { DataRange } from "./source";

export const DIGEST_BLOCK = 1024 * 1024;
const ZEROS = Buffer.alloc(DIGEST_BLOCK);

/** The outer hash of a block digest for `size` bytes, before any block. */
function startOuter(size: number): Hash {
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(size));
  return createHash("sha256").update("imageport-block-digest-v1\n").update(header);
}

/** Adds one block that holds data: its index and the sha256 of its bytes. */
function addBlock(outer: Hash, index: number, blockHash: Buffer): void {
  const at = Buffer.alloc(8);
  at.writeBigUInt64BE(BigInt(index));
  outer.update(at).update(blockHash);
}

/** One block that holds data: its index and the sha256 of its bytes. */
export interface BlockHash {
  index: number;
  hash: Buffer;
}

/** The block digest from the hashes of the blocks that hold data (any order; each block once). */
export function blockDigestOf(size: number, blocks: readonly BlockHash[]): string {
  const outer = startOuter(size);
  for (const b of [...blocks].sort((x, y) => x.index - y.index)) addBlock(outer, b.index, b.hash);
  return outer.digest("hex");
}

export class BlockDigest {
  private readonly outer: Hash;
  private index = 0;
  /** Bytes of the current block seen so far. */
  private filled = 0;
  /** Leading zero bytes of the current block not yet fed to `inner` (only while it has no data). */
  private pendingZeros = 0;
  /** The current block's hash, started at its first non-zero byte. */
  private inner: Hash | undefined;

  constructor(size: number) {
    this.outer = startOuter(size);
  }

  zeros(length: number): void {
    let left = length;
    while (left > 0) {
      if (!this.inner && this.filled === 0 && left >= DIGEST_BLOCK) {
        // Whole zero blocks contribute nothing: skip them without touching a byte.
        const blocks = Math.floor(left / DIGEST_BLOCK);
        this.index += blocks;
        left -= blocks * DIGEST_BLOCK;
        continue;
      }
      const take = Math.min(left, DIGEST_BLOCK - this.filled);
      if (this.inner) this.inner.update(ZEROS.subarray(0, take));
      else this.pendingZeros += take;
      this.advance(take);
      left -= take;
    }
  }

  data(buf: Buffer): void {
    for (let at = 0; at < buf.length; ) {
      const take = Math.min(buf.length - at, DIGEST_BLOCK - this.filled);
      const slice = buf.subarray(at, at + take);
      if (this.inner) this.inner.update(slice);
      else if (slice.equals(ZEROS.subarray(0, take))) this.pendingZeros += take;
      else {
        this.inner = createHash("sha256");
        this.inner.update(ZEROS.subarray(0, this.pendingZeros)).update(slice);
      }
      this.advance(take);
      at += take;
    }
  }

  /** Hex digest; call once, after exactly `size` bytes were fed. */
  digest(): string {
    if (this.filled > 0) this.closeBlock();
    return this.outer.digest("hex");
  }

  private advance(bytes: number): void {
    this.filled += bytes;
    if (this.filled === DIGEST_BLOCK) this.closeBlock();
  }

  private closeBlock(): void {
    if (this.inner) addBlock(this.outer, this.index, this.inner.digest());
    this.inner = undefined;
    this.index++;
    this.filled = 0;
    this.pendingZeros = 0;
  }
}

/** A block some of whose data bytes have arrived. */
interface PartialBlock {
  buf: Buffer;
  /** Received guest intervals [start, end), sorted and merged. */
  got: [number, number][];
  gotBytes: number;
  /** Data bytes the block must receive (its overlap with the data ranges). */
  need: number;
}

/**
 * BlockDigest for content that arrives as (offset, data) pieces in any order, given the data
 * ranges of the content (every byte outside them is zero and never needs to arrive). Bytes of
 * a piece outside the data ranges are ignored, and so are pieces of blocks already complete,
 * so a range read twice counts once. Completed blocks are hashed on the hashing threads
 * (hash-workers.ts), never on the event loop. Memory: one block buffer per block partly
 * received, the blocks being hashed (`add` returns a promise to wait on while more than
 * HASHING_LIMIT bytes are), and 32 bytes per completed block that waits for an earlier one.
 */
/** Bytes of blocks handed to the hashing threads beyond which `add` asks its caller to wait. */
export const HASHING_LIMIT = 32 * 1024 * 1024;

/** sha256 of a block, or null when it is all zeros; `given`: the caller never touches `data` again. */
export type BlockHasher = (data: Uint8Array, given: boolean) => Promise<Buffer | null>;

export class SparseBlockDigest {
  private readonly outer: Hash;
  private hashing = 0;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private drained: { promise: Promise<void>; resolve(): void } | undefined;
  private readonly partial = new Map<number, PartialBlock>();
  /** Completed blocks not yet added to `outer`: their hash, or null when all zero. */
  private readonly done = new Map<number, Buffer | null>();
  /** Blocks complete and being hashed. */
  private readonly pendingBlocks = new Set<number>();
  /** The next block (in index order) that holds data ranges and is not yet added, or undefined. */
  private cursor: number | undefined;
  private rangeAt = 0;

  constructor(
    private readonly size: number,
    private readonly ranges: readonly DataRange[],
    private readonly hashBlock: BlockHasher = hashBlockOffThread,
  ) {
    const last = ranges[ranges.length - 1];
    if (last && last.start + last.length > size) {
      throw new RangeError(`SparseBlockDigest: a data range ends at ${last.start + last.length}, past the size ${size}`);
    }
    this.outer = startOuter(size);
    this.cursor = this.firstDataBlockFrom(0);
  }

  /**
   * `data` is the content at guest `offset` (copied where needed: the caller keeps it). Returns
   * a promise when the hashing threads are behind; wait on it before adding much more.
   */
  add(offset: number, data: Buffer): Promise<void> | undefined {
    const end = Math.min(this.size, offset + data.length);
    for (let block = Math.floor(offset / DIGEST_BLOCK); block * DIGEST_BLOCK < end; block++) {
      if (this.cursor === undefined || block < this.cursor || this.done.has(block) || this.pendingBlocks.has(block)) continue;
      const blockStart = block * DIGEST_BLOCK;
      const blockEnd = Math.min(this.size, blockStart + DIGEST_BLOCK);
      const from = Math.max(offset, blockStart);
      const to = Math.min(end, blockEnd);
      let entry = this.partial.get(block);
      if (!entry) {
        const need = this.dataBytesIn(blockStart, blockEnd);
        if (need === 0) continue;
        if (need === blockEnd - blockStart && from === blockStart && to === blockEnd) {
          // The whole block, all data, in one piece: hash it where it lies.
          this.startHash(block, data.subarray(from - offset, to - offset), false);
          continue;
        }
        entry = { buf: Buffer.alloc(blockEnd - blockStart), got: [], gotBytes: 0, need };
        this.partial.set(block, entry);
      }
      for (let i = firstRangeEndingAfter(this.ranges, from); i < this.ranges.length; i++) {
        const r = this.ranges[i]!;
        if (r.start >= to) break;
        const a = Math.max(from, r.start);
        const b = Math.min(to, r.start + r.length);
        data.copy(entry.buf, a - blockStart, a - offset, b - offset);
        entry.gotBytes += addInterval(entry.got, a, b);
      }
      if (entry.gotBytes === entry.need) {
        this.partial.delete(block);
        this.startHash(block, entry.buf, true);
      }
    }
    return this.hashing > HASHING_LIMIT ? this.whenDrained() : undefined;
  }

  /** Hex digest, equal to BlockDigest's for the same content; fails if any data byte never arrived. */
  async digest(): Promise<string> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    if (this.failure) throw this.failure.error;
    if (this.cursor !== undefined) {
      const missing = this.firstMissing(this.cursor);
      throw jobFailure(
        "OUTPUT_VERIFICATION_FAILED",
        `The copy did not receive all of the source's data: the ${DIGEST_BLOCK}-byte block at guest offset ` +
          `${this.cursor * DIGEST_BLOCK} is incomplete (bytes ${missing[0]} to ${missing[1]} never arrived), so the ` +
          `output cannot be proven to hold the source's content. Run the job again.`,
      );
    }
    return this.outer.digest("hex");
  }

  /** `own`: the bytes are this digest's own buffer, handed over to the hashing thread. */
  private startHash(block: number, bytes: Uint8Array, own: boolean): void {
    // Marked done-to-be at once, so a piece of the same block arriving again is ignored.
    this.pendingBlocks.add(block);
    this.hashing += bytes.length;
    const length = bytes.length;
    const task = this.hashBlock(bytes, own).then(
      (hash) => this.complete(block, hash),
      (error: unknown) => void (this.failure ??= { error }),
    ).finally(() => {
      this.pendingBlocks.delete(block);
      this.inFlight.delete(task);
      this.hashing -= length;
      if (this.hashing <= HASHING_LIMIT && this.drained) {
        this.drained.resolve();
        this.drained = undefined;
      }
    });
    this.inFlight.add(task);
  }

  private whenDrained(): Promise<void> {
    if (!this.drained) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drained = { promise, resolve };
    }
    return this.drained.promise;
  }

  private complete(block: number, hash: Buffer | null): void {
    this.done.set(block, hash);
    while (this.cursor !== undefined && this.done.has(this.cursor)) {
      const h = this.done.get(this.cursor)!;
      this.done.delete(this.cursor);
      if (h) addBlock(this.outer, this.cursor, h);
      this.cursor = this.firstDataBlockFrom(this.cursor + 1);
    }
  }

  /** The first block at or after `block` that overlaps a data range (ranges are walked once). */
  private firstDataBlockFrom(block: number): number | undefined {
    const from = block * DIGEST_BLOCK;
    while (this.rangeAt < this.ranges.length) {
      const r = this.ranges[this.rangeAt]!;
      if (r.length > 0 && r.start + r.length > from) return Math.floor(Math.max(from, r.start) / DIGEST_BLOCK);
      this.rangeAt++;
    }
    return undefined;
  }

  private dataBytesIn(start: number, end: number): number {
    let n = 0;
    for (let i = firstRangeEndingAfter(this.ranges, start); i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (r.start >= end) break;
      n += Math.min(end, r.start + r.length) - Math.max(start, r.start);
    }
    return n;
  }

  /** The first guest interval of data in `block` that has not arrived. */
  private firstMissing(block: number): [number, number] {
    const blockStart = block * DIGEST_BLOCK;
    const blockEnd = Math.min(this.size, blockStart + DIGEST_BLOCK);
    const got = this.partial.get(block)?.got ?? [];
    for (let i = firstRangeEndingAfter(this.ranges, blockStart); i < this.ranges.length; i++) {
      const r = this.ranges[i]!;
      if (r.start >= blockEnd) break;
      let at = Math.max(blockStart, r.start);
      const end = Math.min(blockEnd, r.start + r.length);
      for (const [a, b] of got) {
        if (b <= at || a >= end) continue;
        if (a > at) return [at, a];
        at = Math.max(at, b);
      }
      if (at < end) return [at, end];
    }
    return [blockStart, blockEnd];
  }
}

/** Adds [a, b) to sorted, merged intervals; returns how many bytes were new. */
function addInterval(list: [number, number][], a: number, b: number): number {
  let added = b - a;
  let i = 0;
  while (i < list.length && list[i]![1] < a) i++;
  let start = a;
  let end = b;
  let j = i;
  while (j < list.length && list[j]![0] <= b) {
    const [x, y] = list[j]!;
    added -= Math.max(0, Math.min(b, y) - Math.max(a, x));
    start = Math.min(start, x);
    end = Math.max(end, y);
    j++;
  }
  list.splice(i, j - i, [start, end]);
  return added;
}
