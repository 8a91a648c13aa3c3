// Digests of a disk's guest content read straight from its image file through its extent map:
// data extents are read at their file offset in large chunks (the next read runs while the
// current chunk is digested), zero extents are fed from one shared zero buffer and never read.
// Memory: two chunk buffers plus the zero buffer, whatever the disk size.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { jobFailure } from "../errors";
import { BlockDigest } from "./block-digest";
import { Extent } from "./extents";
import { ProgressCallback } from "./progress";

export const CHUNK = 4 * 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
/** Hashing zeros is CPU-only; give the event loop (and an abort) a turn this often. */
const YIELD_EVERY = 64 * 1024 * 1024;

/** Which digests to compute in one pass. */
export interface DigestWanted {
  /** sha256 of every byte (CPU grows with the size: zero runs are hashed too). */
  sha256: boolean;
  /** BlockDigest (CPU grows with the non-zero data only). */
  blocks: boolean;
}

export interface DiskDigest {
  sha256?: string;
  blocks?: string;
}

export interface MappedHashOptions {
  signal: AbortSignal;
  want: DigestWanted;
  onProgress?: ProgressCallback;
  /** Instrumentation: every read of the image file (file position, bytes actually read). */
  onRead?(position: number, length: number): void;
}

type Piece = { zero: true; length: number } | { zero: false; offset: number; length: number };

/** True when every byte of the disk can be found through `extents` in the image file itself. */
export function directlyReadable(extents: readonly Extent[], virtualSize: number): boolean {
  let position = 0;
  for (const e of extents) {
    if (e.start !== position) return false;
    if (!e.zero && !(e.data && e.offset !== undefined)) return false;
    position += e.length;
  }
  return position === virtualSize;
}

/** Guest content in order: zero runs and file ranges of at most CHUNK bytes, padded with zeros to `size`. */
function* pieces(extents: readonly Extent[], size: number): Generator<Piece> {
  let position = 0;
  for (const e of extents) {
    const length = Math.min(e.length, size - position);
    if (length <= 0) break;
    if (e.zero) yield { zero: true, length };
    else {
      for (let done = 0; done < length; done += CHUNK) {
        yield { zero: false, offset: e.offset! + done, length: Math.min(CHUNK, length - done) };
      }
    }
    position += length;
  }
  if (position < size) yield { zero: true, length: size - position };
}

/**
 * Reads `length` bytes at `position`; past the end of the file the rest reads as zeros, as it
 * does for qemu (a truncated image file).
 */
async function readFully(
  fh: fs.FileHandle,
  buf: Buffer,
  length: number,
  position: number,
  onRead?: (position: number, length: number) => void,
): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  if (filled < length) buf.fill(0, filled, length);
  onRead?.(position, filled);
}

/** Digests of `size` bytes of guest content; `extents` must satisfy directlyReadable. */
export async function digestMappedFile(
  path: string,
  extents: readonly Extent[],
  size: number,
  options: MappedHashOptions,
): Promise<DiskDigest> {
  const { signal, onProgress, onRead, want } = options;
  if (signal.aborted) throw signal.reason;
  const hash = want.sha256 ? createHash("sha256") : undefined;
  const blocks = want.blocks ? new BlockDigest(size) : undefined;
  // Without a full sha256, a zero run costs nothing, so it need not be cut into chunks.
  const zeroStep = hash ? CHUNK : Number.MAX_SAFE_INTEGER;
  const fh = await fs.open(path, "r");
  const pool: Buffer[] = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  type Entry = { zero: true; length: number } | { zero: false; length: number; buf: Buffer; read: Promise<void> };
  const queue: Entry[] = [];
  const source = pieces(extents, size);
  let exhausted = false;
  let hashed = 0;
  let sinceYield = 0;

  // Start reads ahead while a buffer is free; zero runs between them cost nothing to queue.
  const fill = (): void => {
    while (!exhausted && pool.length > 0) {
      const next = source.next();
      if (next.done) {
        exhausted = true;
        break;
      }
      const piece = next.value;
      if (piece.zero) queue.push(piece);
      else {
        const buf = pool.pop()!;
        const read = readFully(fh, buf, piece.length, piece.offset, onRead);
        read.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
        queue.push({ zero: false, length: piece.length, buf, read });
      }
    }
  };

  const advance = async (length: number): Promise<void> => {
    hashed += length;
    sinceYield += length;
    onProgress?.(size === 0 ? 1 : hashed / size);
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await yieldToLoop();
    }
    if (signal.aborted) throw signal.reason;
  };

  try {
    fill();
    while (queue.length > 0) {
      const entry = queue.shift()!;
      if (entry.zero) {
        for (let done = 0; done < entry.length; ) {
          const n = Math.min(zeroStep, entry.length - done);
          hash?.update(ZEROS.subarray(0, n));
          blocks?.zeros(n);
          done += n;
          await advance(n);
        }
      } else {
        await entry.read;
        const data = entry.buf.subarray(0, entry.length);
        hash?.update(data);
        blocks?.data(data);
        pool.push(entry.buf);
        await advance(entry.length);
      }
      fill();
    }
    if (hashed !== size) {
      throw jobFailure(
        "DISK_TOOL_FAILED",
        `Hashing '${path}' covered ${hashed} of ${size} bytes: qemu-img map returned an incomplete extent map.`,
      );
    }
    onProgress?.(1);
    const digest: DiskDigest = {};
    if (hash) digest.sha256 = hash.digest("hex");
    if (blocks) digest.blocks = blocks.digest();
    return digest;
  } finally {
    // Reads still in flight must finish before the file is closed.
    await Promise.allSettled(queue.map((e) => (e.zero ? undefined : e.read)));
    await fh.close();
  }
}
