// A fixed VHD written into a managed disk's page blob through its write SAS: Put Page of at
// most 4 MiB (Azure's limit), 512-aligned, one per run of non-zero sectors; holes in the file
// are never read and all-zero sectors are never sent (a new page blob reads as zeros). The
// sha256 of the disk's content (the first `contentSize` bytes) is computed in the same pass.
// Memory: one 4 MiB window per range in flight.

import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { AnonymousCredential, newPipeline, PageBlobClient } from "@azure/storage-blob";
import { Extent } from "../../disk";
import { AzureCallError, azureFailure, CallTarget } from "./failures";
import { sendBounded } from "../send-bounded";

export const PAGE = 512;
/** Azure's Put Page limit (Azurite accepts more; real Azure answers 413). */
export const MAX_PUT_PAGE = 4 * 1024 * 1024;
export const DEFAULT_RANGES_IN_FLIGHT = 4;
const ZERO_WINDOW = Buffer.alloc(MAX_PUT_PAGE);
const ZERO_PAGE = Buffer.alloc(PAGE);

export interface PageRange {
  offset: number;
  data: Buffer;
}

export interface PageScan {
  path: string;
  /** The file's size (N MiB + 512 for a fixed VHD): everything up to it goes to the blob. */
  fileSize: number;
  /** The file's allocation map (as raw): where data may be. */
  extents: Extent[];
  /** How many leading bytes are the disk's content (hashed). */
  contentSize: number;
  signal: AbortSignal;
  onSha256(hex: string): void;
  onScanned?(bytes: number): void;
}

/** The non-zero 512-byte-aligned runs of the file, each within one 4 MiB window, in order. */
export async function* nonZeroRanges(scan: PageScan): AsyncGenerator<PageRange> {
  const hash = createHash("sha256");
  const fh = await fs.open(scan.path, "r");
  try {
    let e = 0;
    for (let start = 0; start < scan.fileSize; start += MAX_PUT_PAGE) {
      scan.signal.throwIfAborted();
      const end = Math.min(start + MAX_PUT_PAGE, scan.fileSize);
      while (e < scan.extents.length && scan.extents[e]!.start + scan.extents[e]!.length <= start) e++;
      let window: Buffer | undefined;
      for (let i = e; i < scan.extents.length; i++) {
        const x = scan.extents[i]!;
        if (x.start >= end) break;
        if (x.zero) continue;
        const from = Math.max(start, x.start);
        const to = Math.min(end, x.start + x.length);
        window ??= Buffer.alloc(end - start);
        await readFully(fh, window, from - start, to - from, (x.offset ?? x.start) + (from - x.start));
      }
      const content = window ?? ZERO_WINDOW.subarray(0, end - start);
      if (start < scan.contentSize) hash.update(content.subarray(0, Math.min(end, scan.contentSize) - start));
      scan.onScanned?.(end);
      if (!window) {
        await yieldToLoop();
        continue;
      }
      let runStart = -1;
      for (let at = 0; at <= window.length; at += PAGE) {
        const zero = at === window.length || window.subarray(at, at + PAGE).equals(ZERO_PAGE.subarray(0, Math.min(PAGE, window.length - at)));
        if (!zero && runStart < 0) runStart = at;
        if (zero && runStart >= 0) {
          yield { offset: start + runStart, data: window.subarray(runStart, at) };
          runStart = -1;
        }
      }
    }
    scan.onSha256(hash.digest("hex"));
  } finally {
    await fh.close();
  }
}

export interface PageWriteOptions extends Omit<PageScan, "onSha256" | "onScanned"> {
  /** The disk's write SAS URL (a secret: never logged, never in errors). */
  sasUrl: string;
  diskId: string;
  onProgress?(fraction: number): void;
  rangesInFlight?: number;
}

export interface WrittenPages {
  rangesWritten: number;
  bytesWritten: number;
  sha256: string;
}

export async function writePages(options: PageWriteOptions): Promise<WrittenPages> {
  const { signal } = options;
  const blobUrl = new URL(options.sasUrl);
  const target: CallTarget = { url: blobUrl.origin };
  const blob = new PageBlobClient(options.sasUrl, newPipeline(new AnonymousCredential(), { retryOptions: { maxTries: 3, retryDelayInMs: 200 } }));
  let rangesWritten = 0;
  let bytesWritten = 0;
  let sha256 = "";
  let scanned = 0;
  const progress = () => options.onProgress?.(options.fileSize === 0 ? 1 : scanned / options.fileSize);

  await sendBounded({
    items: (sending) => nonZeroRanges({ ...options, signal: sending, onSha256: (hex) => (sha256 = hex), onScanned: (b) => (scanned = b) }),
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
  return { rangesWritten, bytesWritten, sha256 };
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

async function readFully(fh: fs.FileHandle, buf: Buffer, at: number, length: number, position: number): Promise<void> {
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await fh.read(buf, at + filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
}
