// A disk whose writes land in an overlay, as virt-v2v edits a guest through a qcow2 overlay on
// its source: the source is only ever read, the guest tools write into a sparse scratch file in
// the job's work directory, and the copier reads the result (source + overlay) like any other
// DiskSource. A dry run throws the overlay away; a real run copies it into the output, so the
// output is written once and the edits cost what they touch, not the disk's size.

import { randomUUID } from "node:crypto";
import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { checkedDataRanges, rangePieces } from "../disk/data-ranges";
import { DataRange, DiskSource } from "../disk/source";

export class CopyOnWriteDisk implements DiskSource {
  readonly name: string;
  readonly virtualSize: number;
  /** Overlay ranges, in order, not touching (merged). */
  private readonly written: DataRange[] = [];

  private constructor(
    private readonly base: DiskSource,
    private readonly file: fs.FileHandle,
    private readonly path: string,
    private readonly signal: AbortSignal,
  ) {
    this.name = base.name;
    this.virtualSize = base.virtualSize;
  }

  /** An overlay on `base` in `workDir`; `signal` bounds the base reads the guest tools cause. */
  static async open(base: DiskSource, workDir: string, signal: AbortSignal): Promise<CopyOnWriteDisk> {
    await fs.mkdir(workDir, { recursive: true });
    const path = nodePath.join(workDir, `.imageport-overlay-${randomUUID()}.raw`);
    const file = await fs.open(path, "wx+", 0o600);
    return new CopyOnWriteDisk(base, file, path, signal);
  }

  get bytesRead(): number {
    return this.base.bytesRead;
  }

  /** A local base file is copied as it is, with the overlay's ranges written over the copy. */
  get localFile() {
    return this.base.localFile;
  }

  get patches(): readonly DataRange[] {
    return this.written;
  }

  /** What the guest tools changed, as guest ranges (merged). */
  changedRanges(): DataRange[] {
    return this.written.map((w) => ({ ...w }));
  }

  async dataRanges(signal: AbortSignal): Promise<DataRange[]> {
    const base = await this.base.dataRanges(signal);
    const merged: DataRange[] = [];
    for (const r of [...base, ...this.written].sort((a, b) => a.start - b.start)) {
      const last = merged[merged.length - 1];
      if (last && r.start <= last.start + last.length) last.length = Math.max(last.length, r.start + r.length - last.start);
      else merged.push({ start: r.start, length: r.length });
    }
    return checkedDataRanges(merged, this.virtualSize, this.name);
  }

  async read(offset: number, length: number, signal: AbortSignal = this.signal): Promise<Buffer> {
    const out = Buffer.alloc(length);
    for (const piece of rangePieces(this.written, offset, offset + length)) {
      const at = piece.start - offset;
      if (piece.data) await this.readOverlay(out, at, piece.length, piece.start);
      else (await this.base.read(piece.start, piece.length, signal)).copy(out, at);
    }
    return out;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    if (offset < 0 || offset + data.length > this.virtualSize) {
      throw new RangeError(`a write of ${data.length} bytes at ${offset} lies outside the disk (${this.virtualSize} bytes)`);
    }
    let done = 0;
    while (done < data.length) done += (await this.file.write(data, done, data.length - done, offset + done)).bytesWritten;
    this.addWritten(offset, offset + data.length);
  }

  /** Forgets the overlay's writes in [offset, offset + length): reads there see the source again. */
  async discard(offset: number, length: number): Promise<void> {
    const end = offset + length;
    const kept: DataRange[] = [];
    for (const w of this.written) {
      const wEnd = w.start + w.length;
      if (wEnd <= offset || w.start >= end) kept.push(w);
      else {
        if (w.start < offset) kept.push({ start: w.start, length: offset - w.start });
        if (wEnd > end) kept.push({ start: end, length: wEnd - end });
      }
    }
    this.written.splice(0, this.written.length, ...kept);
  }

  /** Writes stay in the overlay until the copy; nothing to make durable before that. */
  async flush(): Promise<void> {}

  /** Removes the overlay; the base stays open (its owner closes it). */
  async close(): Promise<void> {
    await this.file.close().catch(() => undefined);
    await fs.rm(this.path, { force: true });
  }

  private async readOverlay(out: Buffer, at: number, length: number, position: number): Promise<void> {
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(out, at + done, length - done, position + done);
      if (bytesRead === 0) throw new Error(`the overlay ${this.path} is shorter than its written ranges`);
      done += bytesRead;
    }
  }

  private addWritten(start: number, end: number): void {
    const w = this.written;
    // Every range touching [start, end) is merged into one.
    let lo = 0;
    for (let hi = w.length; lo < hi; ) {
      const mid = (lo + hi) >> 1;
      if (w[mid]!.start + w[mid]!.length < start) lo = mid + 1;
      else hi = mid;
    }
    let j = lo;
    for (; j < w.length && w[j]!.start <= end; j++) {
      end = Math.max(end, w[j]!.start + w[j]!.length);
      start = Math.min(start, w[j]!.start);
    }
    w.splice(lo, j - lo, { start, length: end - start });
  }
}
