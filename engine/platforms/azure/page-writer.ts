// A DiskSource written into a managed disk's page blob (through its write SAS) as the fixed VHD
// Azure's direct upload takes: the content at offset 0, the 512-byte footer at N MiB, nothing
// staged on disk. The source's data ranges are read once, in order, in pieces cut at the blob's
// 4 MiB windows; the runs of non-zero 512-byte sectors in each go out as Put Page requests (at
// most 4 MiB each, Azure's limit; 512-aligned), straight from the read buffers. Holes are never
// read and all-zero sectors never sent: a new page blob reads as zeros, so the padding up to
// N MiB costs nothing. A data range need not be sector-aligned: its window is then assembled in
// memory and its partial sectors completed with the zeros the source's contract promises
// outside its ranges (see windowRuns).
//
// The content's digests (engine/disk ContentDigests: the block digest, and the full sha256
// when the job asks for it) are taken from the same reads, on hashing threads.
//
// Memory: the window being gathered, plus one per Put Page in flight (a run keeps its buffer),
// plus the two source reads in flight behind them: (rangesInFlight + 1) x 4 MiB + 2 x 4 MiB,
// 28 MiB by default, whatever the disk's size.

import { AnonymousCredential, newPipeline, PageBlobClient } from "@azure/storage-blob";
import { checkedDataRanges, ContentDigest, ContentDigests, DataRange, DiskSource, readRanges } from "../../disk";
import { AzureCallError, azureFailure, CallTarget } from "./failures";
import { fixedVhdFooter, VHD_FOOTER } from "./fixed-vhd";
import { sendBounded } from "../send-bounded";

export const PAGE = 512;
/** Azure's Put Page limit (Azurite accepts more; real Azure answers 413). */
export const MAX_PUT_PAGE = 4 * 1024 * 1024;
export const DEFAULT_RANGES_IN_FLIGHT = 4;
const ZERO_WINDOW = Buffer.alloc(MAX_PUT_PAGE);
const ZERO_PAGE = ZERO_WINDOW.subarray(0, PAGE);

export interface PageRange {
  offset: number;
  data: Buffer;
}

export interface PageScan {
  source: DiskSource;
  /** N MiB: the VHD's data part (at least the source's virtual size); the footer lies right after it. */
  diskSizeBytes: number;
  /** The footer to write at diskSizeBytes (default a fresh fixed-VHD footer). */
  footer?: Buffer;
  signal: AbortSignal;
  /** The source's data ranges, when the caller already asked for them. */
  ranges?: readonly DataRange[];
  /** Every piece of content read, in guest order; a returned promise holds the reading back. */
  onData?(offset: number, data: Buffer): Promise<void> | undefined;
  /** Guest bytes covered so far. */
  onScanned?(bytes: number): void;
}

/** The pieces read for one 4 MiB window of the blob, in order (no two overlap). */
interface Window {
  start: number;
  pieces: PageRange[];
}

/** The non-zero 512-byte-aligned runs of the fixed VHD (content, then footer), each within one 4 MiB window, in order. */
export async function* fixedVhdPages(scan: PageScan): AsyncGenerator<PageRange> {
  const { source, signal, diskSizeBytes } = scan;
  const size = source.virtualSize;
  if (!Number.isSafeInteger(diskSizeBytes) || diskSizeBytes < size || diskSizeBytes % PAGE !== 0) {
    throw new RangeError(`the VHD's data part (${diskSizeBytes} bytes) must be whole sectors and hold the disk (${size} bytes)`);
  }
  const ranges = scan.ranges ?? checkedDataRanges(await source.dataRanges(signal), size, source.name);
  const footer = scan.footer ?? fixedVhdFooter(diskSizeBytes);
  const fileSize = diskSizeBytes + VHD_FOOTER;

  async function* pieces(): AsyncGenerator<PageRange> {
    // Reads are cut at window boundaries, so no piece spans two windows.
    yield* readRanges(source, ranges, { signal, chunk: MAX_PUT_PAGE, align: MAX_PUT_PAGE });
    yield { offset: diskSizeBytes, data: footer };
  }

  let window: Window | undefined;
  for await (const piece of pieces()) {
    signal.throwIfAborted();
    const start = Math.floor(piece.offset / MAX_PUT_PAGE) * MAX_PUT_PAGE;
    if (window && window.start !== start) {
      yield* windowRuns(window, fileSize);
      window = undefined;
    }
    if (piece.offset < size) {
      await scan.onData?.(piece.offset, piece.data);
      scan.onScanned?.(piece.offset + piece.data.length);
    }
    window ??= { start, pieces: [] };
    window.pieces.push(piece);
  }
  if (window) yield* windowRuns(window, fileSize);
  scan.onScanned?.(size);
}

/**
 * The runs of non-zero sectors in a window's pieces. Sector-aligned pieces apart from each other
 * (the usual case: a source's data lies in whole sectors, its ranges between holes) are sent
 * from the buffers they were read into. Otherwise the window is laid out in a copy, zeros
 * around the pieces: a piece that starts or ends inside a sector shares that sector with its
 * neighbours, and pieces that touch (data right before the footer) go out as one run.
 */
function* windowRuns(window: Window, fileSize: number): Generator<PageRange> {
  const apart = window.pieces.every(
    (p, i) => p.offset % PAGE === 0 && p.data.length % PAGE === 0 && (i === 0 || window.pieces[i - 1]!.offset + window.pieces[i - 1]!.data.length < p.offset),
  );
  if (apart) {
    for (const p of window.pieces) yield* nonZeroRuns(p.data, p.offset, 0, p.data.length);
    return;
  }
  const data = Buffer.alloc(Math.min(MAX_PUT_PAGE, fileSize - window.start));
  const spans: Array<[number, number]> = [];
  for (const p of window.pieces) {
    p.data.copy(data, p.offset - window.start);
    const from = Math.floor((p.offset - window.start) / PAGE) * PAGE;
    const to = Math.min(data.length, Math.ceil((p.offset + p.data.length - window.start) / PAGE) * PAGE);
    const last = spans[spans.length - 1];
    if (last && last[1] >= from) last[1] = Math.max(last[1], to);
    else spans.push([from, to]);
  }
  for (const [from, to] of spans) yield* nonZeroRuns(data, window.start, from, to);
}

/** The runs of non-zero sectors of `data` in [from, to) (sector-aligned), as blob ranges (`data` lies at blob offset `base`). */
function* nonZeroRuns(data: Buffer, base: number, from: number, to: number): Generator<PageRange> {
  if (data.compare(ZERO_WINDOW, 0, to - from, from, to) === 0) return;
  let runStart = -1;
  for (let at = from; at <= to; at += PAGE) {
    // A sector of data rarely starts and ends with zero bytes: look at those first, then
    // compare() with offsets (no Buffer made per sector; a GiB holds two million of them).
    const zero = at === to || (data[at] === 0 && data[at + PAGE - 1] === 0 && data.compare(ZERO_PAGE, 0, PAGE, at, at + PAGE) === 0);
    if (!zero && runStart < 0) runStart = at;
    if (zero && runStart >= 0) {
      yield { offset: base + runStart, data: data.subarray(runStart, at) };
      runStart = -1;
    }
  }
}

export interface PageWriteOptions extends Omit<PageScan, "ranges" | "onData" | "onScanned"> {
  /** Also compute the full-content sha256 (hashDisk): a pass over every byte, zeros included. */
  sha256: boolean;
  /** The disk's write SAS URL (a secret: never logged, never in errors). */
  sasUrl: string;
  diskId: string;
  onProgress?(fraction: number): void;
  rangesInFlight?: number;
}

export interface WrittenPages extends ContentDigest {
  rangesWritten: number;
  bytesWritten: number;
}

export async function writePages(options: PageWriteOptions): Promise<WrittenPages> {
  const { signal, source } = options;
  const blobUrl = new URL(options.sasUrl);
  const target: CallTarget = { url: blobUrl.origin };
  const blob = new PageBlobClient(options.sasUrl, newPipeline(new AnonymousCredential(), { retryOptions: { maxTries: 3, retryDelayInMs: 200 } }));
  let rangesWritten = 0;
  let bytesWritten = 0;
  let scanned = 0;
  const progress = () => options.onProgress?.(source.virtualSize === 0 ? 1 : scanned / source.virtualSize);
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const digests = new ContentDigests(source.virtualSize, ranges, { sha256: options.sha256 });

  try {
    await sendBounded({
    items: (sending) => fixedVhdPages({ ...options, ranges, signal: sending, onData: (offset, data) => digests.add(offset, data), onScanned: (b) => (scanned = b) }),
    limit: options.rangesInFlight ?? DEFAULT_RANGES_IN_FLIGHT,
    signal,
    async send(range, sending) {
      await blob.uploadPages(range.data, range.offset, range.data.length, { abortSignal: sending });
      rangesWritten++;
      bytesWritten += range.data.length;
      progress();
    },
    describe: (range, error) =>
      azureFailure("Put Page", `bytes ${range.offset}..${range.offset + range.data.length - 1} of disk ${options.diskId}`, target, withoutSas(error)),
    });
    progress();
    return { rangesWritten, bytesWritten, ...(await digests.digest()) };
  } finally {
    digests.close();
  }
}

/** The storage SDK's error keeps the request (and so the SAS): keep only status, code and text. */
function withoutSas(error: unknown): unknown {
  const e = error as { statusCode?: number; code?: string; message?: string; cause?: unknown } | null;
  if (!e || typeof e !== "object") return error;
  const message = String(e.message ?? "").replace(/([?&]sig=)[^&\s]*/gi, "$1REDACTED").split(/\r?\n/)[0] ?? "";
  if (typeof e.statusCode === "number" && e.statusCode > 0) return new AzureCallError(e.statusCode, e.code, message);
  // A socket failure: keep its code for the network mapping.
  const plain = new Error(message) as Error & { code?: string };
  if (e.code) plain.code = e.code;
  const c = e.cause as { code?: string } | undefined;
  if (c?.code) plain.code = c.code;
  return plain;
}
