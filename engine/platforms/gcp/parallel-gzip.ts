// Gzip on several threads, as pigz does: the input is cut into blocks, each block is deflated
// on its own (zlib's async deflateRaw, on libuv's thread pool) with the previous block's last
// 32 KiB as its dictionary, every block but the last ends with a sync flush (byte-aligned, not
// final), so the pieces concatenated are one deflate stream; a gzip header before it and the
// CRC32 and size of the whole input after it make ONE ordinary gzip member (RFC 1952) that any
// gunzip reads. One zlib stream (createGzip) keeps one thread busy: 440 MiB of incompressible
// data takes it 12-14 s, which made it the bottleneck of the GCP upload.
//
// Blocks are 1 MiB, not pigz's 128 KiB: each block here starts a fresh zlib state, hashes its
// 32 KiB dictionary (3% extra work at 1 MiB, 25% at 128 KiB) and costs a thread-pool round
// trip (bench/parallel-gzip.ts: 128 KiB blocks took 20% longer, 4 MiB ones 3-10% less for four
// times the memory); 1 MiB is also what the sparse tar reads at a time. The size stays within
// a fraction of a percent of createGzip's: matches only lose the data before the dictionary.
//
// Memory: the blocks being deflated and their output (`concurrency` of each), the block being
// filled and the one held back until it is known whether it is the last. Output is produced
// only as the consumer pulls it, in order; the CRC32 is taken on this thread (zlib.crc32,
// several GB/s: about 0.1 s per 440 MiB, measured with bench/parallel-gzip.ts).

import { availableParallelism } from "node:os";
import { constants, crc32, deflateRaw } from "node:zlib";

export const GZIP_BLOCK = 1024 * 1024;
/** deflate's window: a block can refer back this far. */
const WINDOW = 32 * 1024;
/** What createGzip writes: magic, CM=8 (deflate), no flags, no mtime, XFL 0, OS 3 (Unix). */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

/** libuv's thread pool (UV_THREADPOOL_SIZE, 4 by default), which file reads share with zlib. */
function threadPoolSize(): number {
  const n = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(n) && n > 0 ? n : 4;
}

/**
 * One deflate more than cores, so no core waits while this thread hands over the next block
 * (measured: 3 at once beat 2 on 2 cores), but one pool thread left free so that the reads
 * feeding them (fs, on the same pool) are not queued behind a megabyte of compression.
 */
export function gzipConcurrency(): number {
  return Math.max(1, Math.min(availableParallelism() + 1, threadPoolSize() - 1));
}

export interface ParallelGzipOptions {
  signal?: AbortSignal;
  /** zlib level, 6 by default. */
  level?: number;
  /** Bytes per block (at least 32 KiB), GZIP_BLOCK by default. */
  blockSize?: number;
  /** Blocks deflated at once, gzipConcurrency() by default. */
  concurrency?: number;
}

/** The input cut into blocks of `size` (a copy); the last one, possibly short or empty, says so. */
async function* blocksOf(input: AsyncIterable<Buffer>, size: number): AsyncGenerator<{ data: Buffer; last: boolean }> {
  let parts: Buffer[] = [];
  let filled = 0;
  // A full block waits for one more input byte: only then is it known not to be the last.
  let full: Buffer | undefined;
  for await (const piece of input) {
    for (let at = 0; at < piece.length; ) {
      if (full) {
        yield { data: full, last: false };
        full = undefined;
      }
      const take = Math.min(size - filled, piece.length - at);
      parts.push(piece.subarray(at, at + take));
      filled += take;
      at += take;
      if (filled === size) {
        full = Buffer.concat(parts, size);
        parts = [];
        filled = 0;
      }
    }
  }
  yield { data: full ?? Buffer.concat(parts, filled), last: true };
}

function deflateBlock(data: Buffer, dictionary: Buffer | undefined, last: boolean, level: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const options = {
      level,
      finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      // Room for the whole output (incompressible data grows by ~0.03%): with the default 16 KiB
      // zlib comes back to this thread after every 16 KiB, 64 round trips per block.
      chunkSize: data.length + (data.length >> 10) + 1024,
      ...(dictionary ? { dictionary } : {}),
    };
    // A block that compresses well comes back as a slice of that block-sized output buffer:
    // copied, so that the upload gathering its chunk does not keep a megabyte per kilobyte.
    deflateRaw(data, options, (error, out) => (error ? reject(error) : resolve(out.length < out.buffer.byteLength / 2 ? Buffer.from(out) : out)));
  });
}

/** `promise`, or the signal's reason as soon as it aborts. */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

/**
 * The input gzipped: the bytes of one gzip member, in pieces, blocks deflated in parallel.
 * Pull-driven: nothing is read or compressed ahead of the consumer beyond the blocks in flight.
 * An abort, a failing input or a failing deflate ends it with that error; blocks already on
 * the thread pool finish there, their output dropped.
 */
export async function* parallelGzip(input: AsyncIterable<Buffer>, options: ParallelGzipOptions = {}): AsyncGenerator<Buffer> {
  const { signal } = options;
  const level = options.level ?? 6;
  const blockSize = options.blockSize ?? GZIP_BLOCK;
  const concurrency = Math.max(1, options.concurrency ?? gzipConcurrency());
  if (!Number.isInteger(blockSize) || blockSize < WINDOW) throw new RangeError(`blockSize must be a whole number of at least ${WINDOW} bytes, not ${blockSize}`);
  signal?.throwIfAborted();

  yield HEADER;
  const inFlight: Promise<Buffer>[] = [];
  let crc = 0;
  let size = 0;
  let dictionary: Buffer | undefined;
  for await (const { data, last } of blocksOf(input, blockSize)) {
    signal?.throwIfAborted();
    const deflated = deflateBlock(data, dictionary, last, level);
    deflated.catch(() => undefined); // awaited in turn below, or dropped when the work stops
    inFlight.push(deflated);
    crc = crc32(data, crc);
    size += data.length;
    dictionary = data.length >= WINDOW ? data.subarray(data.length - WINDOW) : undefined; // only the last block is shorter
    while (inFlight.length >= concurrency || (last && inFlight.length > 0)) {
      yield await unlessAborted(inFlight.shift()!, signal);
    }
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  yield trailer;
}
