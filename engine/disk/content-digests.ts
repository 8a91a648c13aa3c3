// The digests of a disk's content taken while a writer reads its source once (the cloud
// uploads): the block digest always, the full-content sha256 only when the job asks for it
// (hashDisk). Pieces are fed in guest order, as readRanges gives them; the gaps between them
// are zeros, which cost the block digest nothing and the sha256 a run on its thread. All the
// hashing happens on hashing threads (hash-workers.ts).

import { SparseBlockDigest } from "./block-digest";
import { Sha256Stream } from "./hash-workers";
import { DataRange } from "./source";

export interface ContentDigest {
  blockDigest: string;
  sha256?: string;
}

export class ContentDigests {
  private readonly blocks: SparseBlockDigest;
  private readonly stream: Sha256Stream | undefined;
  /** Guest bytes fed to the sha256 so far. */
  private position = 0;

  /** `size`: the content's length (zeros past the data count); `ranges`: the source's data ranges. */
  constructor(
    private readonly size: number,
    ranges: readonly DataRange[],
    options: { sha256: boolean },
  ) {
    this.blocks = new SparseBlockDigest(size, ranges);
    this.stream = options.sha256 ? new Sha256Stream() : undefined;
  }

  /** The content at `offset`, at or after everything fed before; wait on the promise it may return. */
  async add(offset: number, data: Buffer): Promise<void> {
    const held = this.blocks.add(offset, data);
    if (this.stream) {
      if (offset < this.position) throw new RangeError(`ContentDigests: a piece at ${offset} arrived after ${this.position}`);
      this.stream.zeros(offset - this.position);
      this.position = offset + data.length;
      await this.stream.update(data);
    }
    await held;
  }

  async digest(): Promise<ContentDigest> {
    const blockDigest = await this.blocks.digest();
    if (!this.stream) return { blockDigest };
    this.stream.zeros(this.size - this.position);
    return { blockDigest, sha256: await this.stream.digest() };
  }

  /** Stops the sha256 thread of a copy that failed. */
  close(): void {
    this.stream?.close();
  }
}
