// A GNU "oldgnu" sparse tar holding one member, disk.raw, written as a stream: the header lists
// the disk's data segments (from its extent map) and only their bytes follow, so holes and zero
// extents cost nothing to read, compress or send. The member's size is grown to `rawSize` (a
// whole number of GiB for GCE) with a trailing hole. The sha256 of the guest content (and of the
// padded disk.raw) is computed in the same pass; zero ranges are hashed from a zero buffer.
//
// The header comes first, so the map is found in a first pass: the extent map's data extents,
// read and cut where whole 64 KiB pieces are zero (formats with large blocks, e.g. VHDX's 32 MiB,
// map mostly-zero blocks as data). Only the pieces that hold data are read again and stored.
//
// Why our own writer rather than `tar --format=oldgnu -Sczf`: GNU tar finds holes only in a
// file on disk, so every non-raw source would first be expanded to a sparse raw file padded to
// the GiB; this reads the source's own extent map and streams straight into gzip.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { Extent } from "../../disk";

export const TAR_BLOCK = 512;
export const GIB = 1024 * 1024 * 1024;
export const MEMBER_NAME = "disk.raw";
const READ_CHUNK = 1024 * 1024;
/** The granularity of zero detection inside data extents. */
export const ZERO_PIECE = 64 * 1024;
const ZEROS = Buffer.alloc(READ_CHUNK);

/** A byte range of disk.raw whose bytes are stored. */
export interface Segment {
  offset: number;
  length: number;
}

export interface TarSource {
  path: string;
  extents: Extent[];
  virtualSize: number;
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

/** The data segments: non-zero extents, merged where they touch, clipped to the virtual size. */
export function dataSegments(extents: readonly Extent[], virtualSize: number): Segment[] {
  const out: Segment[] = [];
  for (const x of extents) {
    if (x.zero) continue;
    const start = x.start;
    const end = Math.min(x.start + x.length, virtualSize);
    if (end <= start) continue;
    const last = out[out.length - 1];
    if (last && last.offset + last.length === start) last.length += end - start;
    else out.push({ offset: start, length: end - start });
  }
  return out;
}

/**
 * The archive as chunks (header, data, padding, end blocks). `onScanned` reports guest bytes
 * covered so far; `onDone` gets the hashes once the last data byte was read.
 */
export async function* sparseTar(
  source: TarSource,
  rawSize: number,
  options: { signal: AbortSignal; mtime?: number; onScanned?(bytes: number): void; onDone(result: SparseTarResult): void },
): AsyncGenerator<Buffer> {
  const { signal } = options;
  const offsetOf = locator(source.extents);
  const fh = await fs.open(source.path, "r");
  let segments: Segment[];
  try {
    segments = await nonZeroSegments(fh, dataSegments(source.extents, source.virtualSize), offsetOf, signal);
  } catch (error) {
    await fh.close();
    throw error;
  }
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
  try {
    for (const seg of segments) {
      await hashZeros(seg.offset);
      for (let done = 0; done < seg.length; ) {
        signal.throwIfAborted();
        const n = Math.min(READ_CHUNK, seg.length - done);
        const buf = Buffer.alloc(n);
        await readGuest(fh, buf, seg.offset + done, offsetOf);
        content.update(buf);
        done += n;
        pos = seg.offset + done;
        options.onScanned?.(pos);
        yield buf;
      }
    }
  } finally {
    await fh.close();
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

/** The parts of `segments` that are not whole zero pieces (ZERO_PIECE-aligned in guest offsets). */
async function nonZeroSegments(fh: fs.FileHandle, segments: readonly Segment[], offsetOf: ReturnType<typeof locator>, signal: AbortSignal): Promise<Segment[]> {
  const out: Segment[] = [];
  const buf = Buffer.alloc(READ_CHUNK);
  const add = (offset: number, length: number) => {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === offset) last.length += length;
    else out.push({ offset, length });
  };
  for (const seg of segments) {
    const end = seg.offset + seg.length;
    for (let at = seg.offset; at < end; ) {
      signal.throwIfAborted();
      // Read up to the next READ_CHUNK boundary so pieces stay aligned to ZERO_PIECE.
      const n = Math.min(end, Math.floor(at / READ_CHUNK) * READ_CHUNK + READ_CHUNK) - at;
      const view = buf.subarray(0, n);
      view.fill(0);
      offsetOf.reset();
      await readGuest(fh, view, at, offsetOf);
      for (let p = 0; p < n; ) {
        const q = Math.min(n, Math.floor((at + p) / ZERO_PIECE) * ZERO_PIECE + ZERO_PIECE - at);
        if (!isZero(view.subarray(p, q))) add(at + p, q - p);
        p = q;
      }
      at += n;
    }
  }
  offsetOf.reset();
  return out;
}

function isZero(b: Buffer): boolean {
  return b.length === 0 || (b[0] === 0 && b.equals(ZEROS.subarray(0, b.length)));
}

/** Maps a guest offset to the file offset that holds it (the extent's `offset`). */
function locator(extents: readonly Extent[]): ((guest: number) => { file: number; run: number }) & { reset(): void } {
  let i = 0;
  return Object.assign((guest: number) => {
    while (i > 0 && (i >= extents.length || extents[i]!.start > guest)) i--;
    while (i < extents.length && extents[i]!.start + extents[i]!.length <= guest) i++;
    const x = extents[i];
    if (!x || x.zero || x.offset === undefined || x.start > guest) throw new Error(`no data extent holds guest offset ${guest}`);
    return { file: x.offset + (guest - x.start), run: x.start + x.length - guest };
  }, { reset: () => void (i = 0) });
}

async function readGuest(fh: fs.FileHandle, buf: Buffer, guest: number, offsetOf: ReturnType<typeof locator>): Promise<void> {
  let filled = 0;
  while (filled < buf.length) {
    const { file, run } = offsetOf(guest + filled);
    const want = Math.min(run, buf.length - filled);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, filled + got, want - got, file + got);
      if (bytesRead === 0) break; // past the file's end the rest stays zero, as qemu reads it
      got += bytesRead;
    }
    filled += want;
  }
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
