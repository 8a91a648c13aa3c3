// A GNU "oldgnu" sparse tar holding one member, disk.raw, written as a stream: the header lists
// the disk's data segments and only their bytes follow, so holes cost nothing to read,
// compress or send. The member's size is grown to `rawSize` (a whole number of GiB for GCE)
// with a trailing hole. Any DiskSource will do (a local image through openImageSource, a
// datastore, a snapshot).
//
// The header comes first, so its sparse map is built from the source's data ranges as given,
// before any byte is read: each range widened to whole 512-byte blocks (as GNU tar's own maps
// are; the widening is zeros, never read) and ranges that then touch merged. The data is then
// read once, in order, and streamed into gzip (parallel-gzip.ts: one gzip member whose blocks
// are deflated side by side on libuv's thread pool, off the event loop). The trade-off: zeros
// inside reported data ranges (a VHDX's partly written blocks, 32 MiB by Hyper-V's default; a
// raw file's written zeros) are stored and compressed, not cut out;
// gzip makes little of them (about 1 KiB per MiB of zeros) and cheaply, whereas cutting them out
// would mean reading every range twice, a first pass to find them and a second to store what
// remains, since the map must precede the data. GCE then writes those zeros into the disk,
// which reads the same as a hole.
//
// The content's digests (engine/disk ContentDigests: the block digest, and the full sha256
// when the job asks for it) are taken from the same reads through `onData`, on hashing threads.
//
// Memory: the chunk being handed on and the two source reads in flight behind it (READ_CHUNK,
// 1 MiB, each), plus the map, which grows with the number of data ranges (about 24 bytes of
// header each, besides the source's own list of ranges), not with the disk's size.
//
// Why our own writer rather than `tar --format=oldgnu -Sczf`: GNU tar finds holes only in a
// file on disk, so every non-raw source would first be expanded to a sparse raw file padded to
// the GiB; this reads the source's own data ranges and streams straight into gzip.

import { checkedDataRanges, DataRange, DiskSource, readRanges } from "../../disk";

export const TAR_BLOCK = 512;
export const GIB = 1024 * 1024 * 1024;
export const MEMBER_NAME = "disk.raw";
const READ_CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(READ_CHUNK);

/** A byte range of disk.raw whose bytes are stored. */
export interface Segment {
  offset: number;
  length: number;
}

export interface SparseTarResult {
  /** Bytes of disk data stored in the archive. */
  dataBytes: number;
  segments: number;
}

/** disk.raw's size for GCE: the virtual size grown to a whole number of GiB (at least 1). */
export function rawSizeFor(virtualSize: number): number {
  return Math.max(1, Math.ceil(virtualSize / GIB)) * GIB;
}

export interface SparseTarOptions {
  signal: AbortSignal;
  mtime?: number;
  /** The source's data ranges, when the caller already asked for them. */
  ranges?: readonly DataRange[];
  /** Every piece of content read, in guest order; a returned promise holds the reading back. */
  onData?(offset: number, data: Buffer): Promise<void> | undefined;
  /** Guest bytes covered so far. */
  onScanned?(bytes: number): void;
  /** The result, once the last data byte was read (before the archive's end blocks). */
  onDone(result: SparseTarResult): void;
}

/** The archive as chunks (header, data, padding, end blocks). */
export async function* sparseTar(source: DiskSource, rawSize: number, options: SparseTarOptions): AsyncGenerator<Buffer> {
  const { signal } = options;
  const size = source.virtualSize;
  if (rawSize < size || rawSize % TAR_BLOCK !== 0) {
    throw new RangeError(`disk.raw (${rawSize} bytes) must be whole blocks and hold the disk (${size} bytes)`);
  }
  const ranges = options.ranges ?? checkedDataRanges(await source.dataRanges(signal), size, source.name);
  const segments = tarSegments(ranges, rawSize);
  const map = [...segments];
  // GNU tar ends the map of a file that ends in a hole with an empty segment at its size.
  const tail = map[map.length - 1];
  if (!tail || tail.offset + tail.length < rawSize) map.push({ offset: rawSize, length: 0 });
  const dataBytes = segments.reduce((n, s) => n + s.length, 0);
  yield sparseHeaders(map, dataBytes, rawSize, options.mtime ?? Math.floor(Date.now() / 1000));

  // The stored stream: each segment's bytes in order, the data as read, the widening zeros.
  const segmentEnd = (i: number) => segments[i]!.offset + segments[i]!.length;
  let seg = 0;
  let pos = 0; // disk.raw offset of the next stored byte
  const zerosTo = function* (to: number) {
    for (; pos < to; pos += Math.min(READ_CHUNK, to - pos)) yield ZEROS.subarray(0, Math.min(READ_CHUNK, to - pos));
  };
  for await (const piece of readRanges(source, ranges, { signal, chunk: READ_CHUNK })) {
    signal.throwIfAborted();
    // Finish the segments before this piece's (their widening zeros), then enter its own.
    for (; piece.offset >= segmentEnd(seg); seg++) {
      pos = Math.max(pos, segments[seg]!.offset);
      yield* zerosTo(segmentEnd(seg));
    }
    pos = Math.max(pos, segments[seg]!.offset);
    yield* zerosTo(piece.offset);
    await options.onData?.(piece.offset, piece.data);
    pos = piece.offset + piece.data.length;
    options.onScanned?.(pos);
    yield piece.data;
  }
  for (; seg < segments.length; seg++) {
    pos = Math.max(pos, segments[seg]!.offset);
    yield* zerosTo(segmentEnd(seg));
  }

  options.onScanned?.(size);
  options.onDone({ dataBytes, segments: segments.length });
  const pad = (TAR_BLOCK - (dataBytes % TAR_BLOCK)) % TAR_BLOCK;
  // Padding of the member, then the end-of-archive marker (two zero blocks).
  yield Buffer.alloc(pad + 2 * TAR_BLOCK);
}

/**
 * The sparse map for these data ranges: each widened to whole tar blocks (the end at most to
 * rawSize), merged where they then touch or overlap.
 */
export function tarSegments(ranges: readonly DataRange[], rawSize: number): Segment[] {
  const out: Segment[] = [];
  for (const r of ranges) {
    const start = Math.floor(r.start / TAR_BLOCK) * TAR_BLOCK;
    const end = Math.min(rawSize, Math.ceil((r.start + r.length) / TAR_BLOCK) * TAR_BLOCK);
    const last = out[out.length - 1];
    if (last && last.offset + last.length >= start) last.length = Math.max(last.length, end - last.offset);
    else out.push({ offset: start, length: end - start });
  }
  return out;
}


/** The member header (4 map entries) and as many extension headers (21 each) as the map needs. */
export function sparseHeaders(map: readonly Segment[], storedSize: number, realSize: number, mtime: number): Buffer {
  const extra = Math.max(0, Math.ceil((map.length - 4) / 21));
  const out = Buffer.alloc(TAR_BLOCK * (1 + extra));
  const h = out.subarray(0, TAR_BLOCK);
  h.write(MEMBER_NAME, 0, "ascii");
  octal(h, 100, 8, 0o644);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  numeric(h, 124, 12, storedSize);
  numeric(h, 136, 12, mtime);
  h.write("S", 156, "ascii"); // GNUTYPE_SPARSE
  h.write("ustar  \0", 257, "ascii"); // OLDGNU_MAGIC: "ustar " + version " \0"
  h.write("root", 265, "ascii");
  h.write("root", 297, "ascii");
  writeEntries(h, 386, map.slice(0, 4));
  if (extra > 0) h[482] = 1;
  numeric(h, 483, 12, realSize);
  checksum(h);
  for (let k = 0; k < extra; k++) {
    const x = out.subarray(TAR_BLOCK * (k + 1), TAR_BLOCK * (k + 2));
    writeEntries(x, 0, map.slice(4 + 21 * k, 4 + 21 * (k + 1)));
    if (k < extra - 1) x[504] = 1;
  }
  return out;
}

function writeEntries(block: Buffer, at: number, entries: readonly Segment[]): void {
  entries.forEach((s, i) => {
    numeric(block, at + 24 * i, 12, s.offset);
    numeric(block, at + 24 * i + 12, 12, s.length);
  });
}

function checksum(h: Buffer): void {
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
}

function octal(buf: Buffer, at: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, "0") + "\0", at, "ascii");
}

/** Octal when it fits (width-1 digits), else GNU base-256 (disks past 8 GiB). */
function numeric(buf: Buffer, at: number, width: number, value: number): void {
  if (value < 8 ** (width - 1)) return octal(buf, at, width, value);
  buf.fill(0, at, at + width);
  buf[at] = 0x80;
  let v = BigInt(value);
  for (let i = at + width - 1; i > at && v > 0n; i--) {
    buf[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}
