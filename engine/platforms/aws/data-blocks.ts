// A disk source read as EBS blocks: 512 KiB pieces of its guest content in index order, found
// through the source's data ranges. Holes are never read; blocks that hold only zeros are
// counted in the content hash but never yielded (EBS treats unwritten blocks as zeros). The
// sha256 of the whole content is computed in the same pass. Any DiskSource will do: a local
// image (openImageSource), a datastore, a cloud snapshot. Memory: one block per yielded block,
// plus the reads in flight (at most two of READ_CHUNK).

import { createHash } from "node:crypto";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { checkedDataRanges, DiskSource, readRanges } from "../../disk";

/** The EBS direct API's block size. */
export const EBS_BLOCK = 512 * 1024;
const ZERO_BLOCK = Buffer.alloc(EBS_BLOCK);
const YIELD_EVERY_BLOCKS = 128; // 64 MiB of zeros hashed between turns of the event loop
/** Source reads span up to this many bytes of a data range (cut at block boundaries). */
const READ_CHUNK = 8 * EBS_BLOCK;

export interface DataBlock {
  index: number;
  /** Exactly EBS_BLOCK bytes (the last block of the disk is padded with zeros). */
  data: Buffer;
}

export interface BlockScanOptions {
  signal: AbortSignal;
  /** Called with the sha256 (hex) of the whole content once every block was scanned. */
  onSha256(hex: string): void;
  /** Guest bytes scanned so far (zeros included). */
  onScanned?(bytes: number): void;
}

/** The blocks of `source` that hold data, in index order. */
export async function* dataBlocks(source: DiskSource, options: BlockScanOptions): AsyncGenerator<DataBlock> {
  const { signal } = options;
  const size = source.virtualSize;
  const ranges = checkedDataRanges(await source.dataRanges(signal), size, source.name);
  const hash = createHash("sha256");
  let hashed = 0; // guest bytes hashed so far

  /** Hashes the zero blocks up to `end` (a block boundary or the disk's end). */
  const zerosUpTo = async (end: number) => {
    for (let blocks = 0; hashed < end; blocks++) {
      const n = Math.min(EBS_BLOCK, end - hashed);
      hash.update(ZERO_BLOCK.subarray(0, n));
      hashed += n;
      options.onScanned?.(hashed);
      if (blocks % YIELD_EVERY_BLOCKS === YIELD_EVERY_BLOCKS - 1) {
        await yieldToLoop();
        signal.throwIfAborted();
      }
    }
  };

  let current: DataBlock | undefined;
  /** Hashes the zeros before the current block and the block itself; the block if it holds data. */
  const finish = async (): Promise<DataBlock | undefined> => {
    const block = current!;
    current = undefined;
    const start = block.index * EBS_BLOCK;
    const end = Math.min(start + EBS_BLOCK, size);
    await zerosUpTo(start);
    hash.update(block.data.subarray(0, end - start));
    hashed = end;
    options.onScanned?.(hashed);
    return block.data.equals(ZERO_BLOCK) ? undefined : block;
  };

  for await (const piece of readRanges(source, ranges, { signal, chunk: READ_CHUNK, align: EBS_BLOCK })) {
    const end = piece.offset + piece.data.length;
    for (let index = Math.floor(piece.offset / EBS_BLOCK); index * EBS_BLOCK < end; index++) {
      if (current && current.index !== index) {
        const done = await finish();
        if (done) yield done;
      }
      current ??= { index, data: Buffer.alloc(EBS_BLOCK) };
      const from = Math.max(piece.offset, index * EBS_BLOCK);
      const to = Math.min(end, (index + 1) * EBS_BLOCK);
      piece.data.copy(current.data, from - index * EBS_BLOCK, from - piece.offset, to - piece.offset);
    }
  }
  if (current) {
    const done = await finish();
    if (done) yield done;
  }
  await zerosUpTo(size);
  options.onSha256(hash.digest("hex"));
}
