// A GNU "oldgnu" sparse tar holding one member, disk.raw, written as a stream: the header lists
// the disk's data segments (from its source's data ranges) and only their bytes follow, so
// holes cost nothing to read, compress or send. The member's size is grown to `rawSize` (a
// whole number of GiB for GCE) with a trailing hole. The sha256 of the guest content (and of the
// padded disk.raw) is computed in the same pass; zero ranges are hashed from a zero buffer.
// Any DiskSource will do (a local image through openImageSource, a datastore, a snapshot).
//
// The header comes first, so the map is found in a first pass: the data ranges, read and cut
// where whole 64 KiB pieces are zero (sources with large blocks, e.g. VHDX's 32 MiB, report
// mostly-zero blocks as data). Only the pieces that hold data are read again and stored, so
// the source's data is read twice (once for a source that is all data and zeros).
//
// Why our own writer rather than `tar --format=oldgnu -Sczf`: GNU tar finds holes only in a
// file on disk, so every non-raw source would first be expanded to a sparse raw file padded to
// the GiB; this reads the source's own data ranges and streams straight into gzip.

import { createHash } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { checkedDataRanges, DataRange, DiskSource, readRanges } from "../../disk";

export const TAR_BLOCK = 512;
export const GIB = 1024 * 1024 * 1024;
export const MEMBER_NAME = "disk.raw";
const READ_CHUNK = 1024 * 1024;
/** The granularity of zero detection inside data ranges. */
export const ZERO_PIECE = 64 * 1024;
const ZEROS = Buffer.alloc(READ_CHUNK);

/** A byte range of disk.raw whose bytes are stored. */
export interface Segment {
  offset: number;
  length: number;
}

export interface SparseTarResult {
  /** sha256 (hex) of the guest content: virtualSize bytes. */
  sha256: string;
  /** sha256 (hex) of disk.raw as extracted: rawSize bytes (content + zero padding). */
  rawSha256: string;
  /** Bytes of disk data stored in the archive. */
  dataBytes: number;
  segments: number;
}

/** disk.raw's size for GCE: the virtual size grown to a whole number of GiB (at least 1). */
export function rawSizeFor(virtualSize: number): number {
  return Math.max(1, Math.ceil(virtualSize / GIB)) * GIB;
}

/**
 * The archive as chunks (header, data, padding, end blocks). `onScanned` reports guest bytes
 * covered so far; `onDone` gets the hashes once the last data byte was read.
 */
export async function* sparseTar(
  source: DiskSource,
  rawSize: number,
  options: { signal: AbortSignal; mtime?: number; onScanned?(bytes: number): void; onDone(result: SparseTarResult): void },
): AsyncGenerator<Buffer> {
  const { signal } = options;
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const segments = await nonZeroSegments(source, ranges, signal);
  const map = [...segments];
  // GNU tar ends the map of a file that ends in a hole with an empty segment at its size.
  const tail = map[map.length - 1];
  if (!tail || tail.offset + tail.length < rawSize) map.push({ offset: rawSize, length: 0 });
  const dataBytes = segments.reduce((n, s) => n + s.length, 0);
  yield sparseHeaders(map, dataBytes, rawSize, options.mtime ?? Math.floor(Date.now() / 1000));

  const content = createHash("sha256");
  let pos = 0; // guest bytes hashed so far
  const hashZeros = async (upTo: number) => {
    while (pos < upTo) {
      signal.throwIfAborted();
      const n = Math.min(READ_CHUNK, upTo - pos);
      content.update(ZEROS.subarray(0, n));
      pos += n;
      options.onScanned?.(pos);
      await yieldToLoop();
    }
  };
  const stored = segments.map((s) => ({ start: s.offset, length: s.length }));
  for await (const piece of readRanges(source, stored, { signal, chunk: READ_CHUNK })) {
    await hashZeros(piece.offset);
    content.update(piece.data);
    pos = piece.offset + piece.data.length;
    options.onScanned?.(pos);
    yield piece.data;
  }
  await hashZeros(source.virtualSize);
  const raw = content.copy();
  for (let at = source.virtualSize; at < rawSize; at += READ_CHUNK) {
    signal.throwIfAborted();
    raw.update(ZEROS.subarray(0, Math.min(READ_CHUNK, rawSize - at)));
    if ((at / READ_CHUNK) % 64 === 0) await yieldToLoop();
  }
  options.onDone({ sha256: content.digest("hex"), rawSha256: raw.digest("hex"), dataBytes, segments: segments.length });
  const pad = (TAR_BLOCK - (dataBytes % TAR_BLOCK)) % TAR_BLOCK;
  // Padding of the member, then the end-of-archive marker (two zero blocks).
  yield Buffer.alloc(pad + 2 * TAR_BLOCK);
}

/** The parts of the data ranges that are not whole zero pieces (ZERO_PIECE-aligned in guest offsets). */
async function nonZeroSegments(source: DiskSource, ranges: readonly DataRange[], signal: AbortSignal): Promise<Segment[]> {
  const out: Segment[] = [];
  const add = (offset: number, length: number) => {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === offset) last.length += length;
    else out.push({ offset, length });
  };
  // Reads end on READ_CHUNK boundaries so pieces stay aligned to ZERO_PIECE.
  for await (const { offset, data } of readRanges(source, ranges, { signal, chunk: READ_CHUNK })) {
    for (let p = 0; p < data.length; ) {
      const q = Math.min(data.length, Math.floor((offset + p) / ZERO_PIECE) * ZERO_PIECE + ZERO_PIECE - offset);
      if (!isZero(data.subarray(p, q))) add(offset + p, q - p);
      p = q;
    }
  }
  return out;
}

function isZero(b: Buffer): boolean {
  return b.length === 0 || (b[0] === 0 && b.equals(ZEROS.subarray(0, b.length)));
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
