// Working with a DiskSource's data ranges: checking what a source reported, cutting a guest
// interval into data and hole pieces, and reading a source's data in order with a few reads in
// flight. Shared by the NBD export, the sparse block digest and the cloud block writers.

import { jobFailure } from "../errors";
import { DataRange, DiskSource } from "./source";

/** A part of a guest interval: inside a data range (`data`) or in a hole. */
export interface RangePiece {
  start: number;
  length: number;
  data: boolean;
}

/**
 * The source's ranges as consumers rely on them: in order, not overlapping, within
 * [0, virtualSize), none empty, touching ones merged. A source that breaks the contract gets a
 * clear error instead of a silently wrong copy.
 */
export function checkedDataRanges(ranges: readonly DataRange[], virtualSize: number, name: string): DataRange[] {
  const out: DataRange[] = [];
  let end = 0;
  for (const r of ranges) {
    const valid = Number.isSafeInteger(r.start) && Number.isSafeInteger(r.length) && r.start >= 0 && r.length >= 0;
    if (!valid || r.start < end || r.start + r.length > virtualSize) {
      throw jobFailure(
        "SOURCE_DISK_UNREADABLE",
        `The source ${name} reported an unusable allocation map: the range at ${r.start} (${r.length} bytes) ` +
          `is out of order, overlaps the previous one or lies past the disk's end (${virtualSize} bytes). ` +
          `The disk cannot be copied safely from this map; report this as a defect of the source driver.`,
      );
    }
    if (r.length === 0) continue;
    const last = out[out.length - 1];
    if (last && last.start + last.length === r.start) last.length += r.length;
    else out.push({ start: r.start, length: r.length });
    end = r.start + r.length;
  }
  return out;
}

/** Total bytes inside the ranges. */
export function rangeBytes(ranges: readonly DataRange[]): number {
  return ranges.reduce((n, r) => n + r.length, 0);
}

/** Index of the first range that ends after `offset` (ranges.length if none). */
export function firstRangeEndingAfter(ranges: readonly DataRange[], offset: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (r.start + r.length <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** [start, end) cut into data and hole pieces, in guest order. */
export function* rangePieces(ranges: readonly DataRange[], start: number, end: number): Generator<RangePiece> {
  let at = start;
  for (let i = firstRangeEndingAfter(ranges, start); at < end; i++) {
    const r = ranges[i];
    if (!r || r.start >= end) {
      yield { start: at, length: end - at, data: false };
      return;
    }
    if (r.start > at) {
      yield { start: at, length: r.start - at, data: false };
      at = r.start;
    }
    const to = Math.min(end, r.start + r.length);
    yield { start: at, length: to - at, data: true };
    at = to;
  }
}

export interface ReadDataOptions {
  signal: AbortSignal;
  /** Largest single read (default 4 MiB). */
  chunk?: number;
  /** Reads are also cut at multiples of this (default: `chunk`), so pieces line up with blocks. */
  align?: number;
  /** Reads in flight at once (default 2: the next one runs while the caller uses the current). */
  ahead?: number;
}

/**
 * The bytes of `ranges` read from the source, in order, in pieces of at most `chunk` bytes.
 * Nothing outside the ranges is read. Reads still running when the caller stops are waited for
 * (their failures then no longer matter).
 */
export async function* readRanges(
  source: DiskSource,
  ranges: readonly DataRange[],
  options: ReadDataOptions,
): AsyncGenerator<{ offset: number; data: Buffer }> {
  const chunk = options.chunk ?? 4 * 1024 * 1024;
  const align = options.align ?? chunk;
  const ahead = Math.max(1, options.ahead ?? 2);
  const { signal } = options;

  function* pieces(): Generator<{ offset: number; length: number }> {
    for (const r of ranges) {
      const end = r.start + r.length;
      for (let at = r.start; at < end; ) {
        const cut = Math.floor((at + chunk) / align) * align;
        const to = Math.min(end, cut > at ? cut : at + chunk);
        yield { offset: at, length: to - at };
        at = to;
      }
    }
  }

  type Pending = { offset: number; length: number; data: Promise<Buffer> };
  const queue: Pending[] = [];
  const next = pieces();
  const fill = () => {
    while (queue.length < ahead) {
      const p = next.next();
      if (p.done) return;
      const data = source.read(p.value.offset, p.value.length, signal);
      data.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
      queue.push({ ...p.value, data });
    }
  };
  try {
    fill();
    while (queue.length > 0) {
      const head = queue[0]!;
      const data = await head.data;
      queue.shift();
      if (data.length !== head.length) {
        throw jobFailure(
          "SOURCE_DISK_UNREADABLE",
          `Reading ${head.length} bytes at ${head.offset} of ${source.name} returned ${data.length} bytes. ` +
            `The disk cannot be copied from a source that returns short reads; report this as a defect of the source driver.`,
        );
      }
      fill();
      yield { offset: head.offset, data };
    }
  } finally {
    await Promise.allSettled(queue.map((p) => p.data));
  }
}
