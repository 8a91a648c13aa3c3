// A disk whose every byte is found through an extent map (guest offset -> offset in an image
// file), read from wherever the image file lies: a local file (image-source.ts) or a file read
// by ranges on a share (ranged-source.ts). Bytes outside the data extents read as zeros.

import { Extent } from "./extents";
import { DataRange, DiskSource, LocalImageFile } from "./source";

/** Reads up to `length` bytes of the image file at `position` into `out` at `outOffset`; 0 at its end. */
export type ReadInto = (out: Buffer, outOffset: number, length: number, position: number, signal: AbortSignal) => Promise<number>;

export class ExtentSource implements DiskSource {
  private readonly data: Extent[];
  private readonly ranges: DataRange[];
  private read_ = 0;
  private closing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly virtualSize: number,
    extents: readonly Extent[],
    private readonly readInto: ReadInto,
    private readonly release: () => Promise<void>,
    readonly localFile?: LocalImageFile,
  ) {
    // The extents that hold bytes to read, merged where they touch in guest and file offsets.
    this.data = [];
    for (const e of extents) {
      if (e.zero || e.length === 0) continue;
      const last = this.data[this.data.length - 1];
      if (last && last.start + last.length === e.start && last.offset! + last.length === e.offset) last.length += e.length;
      else this.data.push({ ...e });
    }
    this.ranges = [];
    for (const e of this.data) {
      const last = this.ranges[this.ranges.length - 1];
      if (last && last.start + last.length === e.start) last.length += e.length;
      else this.ranges.push({ start: e.start, length: e.length });
    }
  }

  get bytesRead(): number {
    return this.read_;
  }

  async dataRanges(signal: AbortSignal): Promise<DataRange[]> {
    signal.throwIfAborted();
    return this.ranges.map((r) => ({ ...r }));
  }

  async read(offset: number, length: number, signal: AbortSignal): Promise<Buffer> {
    signal.throwIfAborted();
    if (this.closing) throw new Error(`${this.name} is closed`);
    const out = Buffer.alloc(length);
    const end = offset + length;
    // The first data extent that ends after `offset`.
    let lo = 0;
    let hi = this.data.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const e = this.data[mid]!;
      if (e.start + e.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.data.length; i++) {
      const e = this.data[i]!;
      if (e.start >= end) break;
      const from = Math.max(offset, e.start);
      const to = Math.min(end, e.start + e.length);
      let filled = 0;
      while (filled < to - from) {
        const got = await this.readInto(out, from - offset + filled, to - from - filled, e.offset! + (from - e.start) + filled, signal);
        if (got === 0) break; // past the file's end the rest reads as zeros, as it does for qemu
        filled += got;
      }
      this.read_ += filled;
      signal.throwIfAborted();
    }
    return out;
  }

  close(): Promise<void> {
    return (this.closing ??= this.release());
  }
}
