// A disk source read as EBS blocks: 512 KiB pieces of its guest content in index order, found
// through the source's data ranges. Holes are never read. Each block comes with its SHA-256
// (the checksum PutSnapshotBlock takes) being computed on a hashing thread, which also says
// whether the block is all zeros (null: EBS treats unwritten blocks as zeros, so it is not
// sent). The hash is not waited for here, so hashing overlaps reading and sending. Every
// piece read is shown to `onData` (the job's content digests). Any
// DiskSource will do: a local image (openImageSource), a datastore, a cloud snapshot. Memory:
// the block being filled, plus the reads in flight (at most two of READ_CHUNK).

import { checkedDataRanges, DataRange, DiskSource, hashBlockOffThread, readRanges } from "../../disk";

/** The EBS direct API's block size. */
export const EBS_BLOCK = 512 * 1024;
/** Source reads span up to this many bytes of a data range (cut at block boundaries). */
const READ_CHUNK = 8 * EBS_BLOCK;

export interface DataBlock {
  index: number;
  /** Exactly EBS_BLOCK bytes (the last block of the disk is padded with zeros). */
  data: Buffer;
  /** SHA-256 of `data`, or null when it is all zeros. */
  checksum: Promise<Buffer | null>;
}

export interface BlockScanOptions {
  signal: AbortSignal;
  /** The source's data ranges, when the caller already asked for them. */
  ranges?: readonly DataRange[];
  /** Every piece read, in guest order; a returned promise holds the reading back. */
  onData?(offset: number, data: Buffer): Promise<void> | undefined;
  /** Guest bytes scanned so far (holes included). */
  onScanned?(bytes: number): void;
}

/** The blocks of `source` that data ranges touch, in index order. */
export async function* dataBlocks(source: DiskSource, options: BlockScanOptions): AsyncGenerator<DataBlock> {
  const { signal } = options;
  const ranges = options.ranges ?? checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);

  let current: { index: number; data: Buffer } | undefined;
  /** The current block, its checksum on the way. */
  const finish = (): DataBlock => {
    const block = current!;
    current = undefined;
    options.onScanned?.(Math.min(source.virtualSize, (block.index + 1) * EBS_BLOCK));
    const checksum = hashBlockOffThread(block.data);
    checksum.catch(() => undefined); // awaited by the consumer; this only keeps a dropped one from going unhandled
    return { ...block, checksum };
  };

  for await (const piece of readRanges(source, ranges, { signal, chunk: READ_CHUNK, align: EBS_BLOCK })) {
    await options.onData?.(piece.offset, piece.data);
    const end = piece.offset + piece.data.length;
    for (let index = Math.floor(piece.offset / EBS_BLOCK); index * EBS_BLOCK < end; index++) {
      if (current && current.index !== index) yield finish();
      current ??= { index, data: Buffer.alloc(EBS_BLOCK) };
      const from = Math.max(piece.offset, index * EBS_BLOCK);
      const to = Math.min(end, (index + 1) * EBS_BLOCK);
      piece.data.copy(current.data, from - index * EBS_BLOCK, from - piece.offset, to - piece.offset);
    }
  }
  if (current) yield finish();
  options.onScanned?.(source.virtualSize);
}
