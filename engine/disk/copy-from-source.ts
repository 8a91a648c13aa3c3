// The one copier from any DiskSource to a local image file of any format. Work follows the
// source's data: holes are never read, hashed or written, and the data is read once for the
// copy and digested as it goes.
//   - A source that is a local image file (source.localFile): qemu-img converts from the file
//     itself, and a hashing thread digests the same data extents meanwhile (the second read
//     comes from the page cache).
//   - Any other source (a datastore, a cloud snapshot): served read-only over NBD on a unix
//     socket (nbd-export.ts), as virt-v2v serves its inputs to its copier. qemu-img asks for
//     block status and reads only the data ranges; the bytes are digested as they pass
//     (SparseBlockDigest: qemu-img reads in parallel, out of order, and the hashing threads
//     hold the reads back when they fall behind). A failed source read fails the copy with the
//     source's own error.
// Either way the target is created at its planned size (convert.ts) and the output's block
// digest, computed afterwards from the written file on a hashing thread while the file is
// fsynced, must equal the source's.

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { EngineError, jobFailure } from "../errors";
import { SparseBlockDigest } from "./block-digest";
import { ConvertResult, convertInto, DiskRef, fsyncFile, plannedTargetSize, refuseOverwritingSource, TargetRef } from "./convert";
import { checkedDataRanges, rangeBytes } from "./data-ranges";
import { qemuDriver } from "./formats";
import { digestImage } from "./hash";
import { digestFileOffThread } from "./hash-workers";
import { openImageSource } from "./image-source";
import { inspectImage } from "./inspect";
import { serveOverNbd } from "./nbd-export";
import { forwardProgress, phase, ProgressCallback } from "./progress";
import { DataRange, DiskSource, LocalImageFile } from "./source";

export interface CopyFromSourceOptions {
  /** Written in place; removed again if the copy fails. */
  target: TargetRef;
  /** Virtual size wanted for the target, to grow it; never smaller than the source. */
  size?: number;
  /** Also compute the full-content sha256 (IPS's hashDisk): a pass over every byte, zeros included. */
  sha256?: boolean;
  /** Scratch space: the NBD socket, and a raw expansion if the output cannot be hashed in place. */
  workDir: string;
  signal: AbortSignal;
  onProgress?: ProgressCallback;
  /** Test hook: runs after the copy, before the output is digested. */
  beforeVerify?(targetPath: string): Promise<void>;
}

export interface CopiedDisk {
  /** Block digest (block-digest.ts) of the target's content, equal to the source's. */
  blockDigest: string;
  /** Full-content sha256 of the target's content (virtualSize bytes), when asked for. */
  sha256?: string;
  /** The target's virtual size. */
  virtualSize: number;
  /** The target file's size. */
  fileSize: number;
  /** Bytes read from the source for the copy (its data; holes are never read). */
  dataBytes: number;
}

// Shares of the whole run: the copy (and the source's digest), then the output's digest.
const COPY_SHARE = 0.8;

interface SourceCopied {
  written: ConvertResult;
  blockDigest: string;
  sha256?: string;
  dataBytes: number;
}

export async function copyFromSource(source: DiskSource, options: CopyFromSourceOptions): Promise<CopiedDisk> {
  const { target, workDir, signal } = options;
  signal.throwIfAborted();
  const report = forwardProgress(options.onProgress);
  const virtualSize = plannedTargetSize({ path: source.name, virtualSize: source.virtualSize }, target, options.size);
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const targetPath = nodePath.resolve(target.path);

  // Set once the target may have been written: a refusal before that leaves the path alone.
  const state = { touched: false };
  let copied = false;
  try {
    const onProgress = phase(report, 0, COPY_SHARE);
    const fromSource = source.localFile
      ? await copyLocalFile(source, source.localFile, virtualSize, ranges, options, onProgress, state)
      : await copyOverNbd(source, virtualSize, ranges, options, onProgress, state);

    await options.beforeVerify?.(targetPath);
    // The output's digests on a hashing thread while its data reaches the disk.
    const output = await inspectImage(targetPath, target.format, signal, "output");
    const [outputDigest] = await Promise.all([
      digestImage(output, { sha256: options.sha256 === true && fromSource.sha256 === undefined, blocks: true }, {
        size: virtualSize,
        workDir,
        signal,
        onProgress: phase(report, COPY_SHARE, 1),
      }),
      fsyncFile(targetPath),
    ]);
    if (outputDigest.blocks !== fromSource.blockDigest) {
      throw jobFailure(
        "OUTPUT_VERIFICATION_FAILED",
        `The copy of the source ${source.name} to ${target.format} '${target.path}' does not hold the same data as ` +
          `the source: their contents differ although qemu-img reported success. The output is not usable; run the ` +
          `job again, and check the storage holding the output if it happens again.`,
      );
    }
    report(1);
    copied = true;
    const sha256 = fromSource.sha256 ?? outputDigest.sha256;
    return {
      blockDigest: fromSource.blockDigest,
      ...(sha256 ? { sha256 } : {}),
      virtualSize: fromSource.written.virtualSize,
      fileSize: fromSource.written.fileSize,
      dataBytes: fromSource.dataBytes,
    };
  } finally {
    if (state.touched && !copied) await fs.rm(targetPath, { force: true }).catch(() => undefined);
  }
}

/** A local image file copied into another format (what prepare and publish do to files). */
export async function copyImageFile(options: CopyFromSourceOptions & { source: DiskRef }): Promise<CopiedDisk> {
  const source = await openImageSource(options.source.path, options.source.format, options.workDir, options.signal);
  try {
    return await copyFromSource(source, options);
  } finally {
    await source.close();
  }
}

/** qemu-img reads the file itself; a hashing thread digests the same extents at the same time. */
async function copyLocalFile(
  source: DiskSource,
  file: LocalImageFile,
  virtualSize: number,
  ranges: DataRange[],
  options: CopyFromSourceOptions,
  onProgress: ProgressCallback,
  state: { touched: boolean },
): Promise<SourceCopied> {
  let converted = 0;
  let hashed = 0;
  const both = () => onProgress((converted + hashed) / 2);
  const [written, digest] = await allOrNothing(options.signal, (signal) => [
    convertInto(
      {
        path: source.name,
        virtualSize: source.virtualSize,
        description: `the source ${source.name}`,
        options: ["-f", qemuDriver(file.format)],
        filename: file.path,
        check: async (targetPath) => {
          await refuseOverwritingSource(file.path, targetPath);
          state.touched = true;
        },
      },
      { target: options.target, size: options.size, signal, skipSync: true, onProgress: (f) => ((converted = f), both()) },
    ),
    digestFileOffThread(file.path, file.extents, virtualSize, {
      want: { blocks: true, sha256: options.sha256 === true },
      signal,
      onProgress: (f) => ((hashed = f), both()),
    }),
  ]);
  return { written, blockDigest: digest.blocks!, ...(digest.sha256 ? { sha256: digest.sha256 } : {}), dataBytes: rangeBytes(ranges) };
}

/** qemu-img reads the source's NBD export; the bytes are digested as they are served. */
async function copyOverNbd(
  source: DiskSource,
  virtualSize: number,
  ranges: DataRange[],
  options: CopyFromSourceOptions,
  onProgress: ProgressCallback,
  state: { touched: boolean },
): Promise<SourceCopied> {
  const { signal } = options;
  const sourceDigest = new SparseBlockDigest(virtualSize, ranges);
  const nbd = await serveOverNbd(source, {
    socketDir: options.workDir,
    signal,
    dataRanges: ranges,
    onData: (offset, data) => sourceDigest.add(offset, data),
  });
  let written: ConvertResult;
  try {
    state.touched = true;
    written = await convertInto(
      { path: source.name, virtualSize: source.virtualSize, description: `the source ${source.name}`, options: ["-f", "raw"], filename: nbd.uri },
      { target: options.target, size: options.size, signal, skipSync: true, onProgress },
    );
  } catch (error) {
    throw signal.aborted ? signal.reason : (sourceFailure(source, nbd.failure()) ?? error);
  } finally {
    await nbd.close();
  }
  // qemu-img cannot succeed past a failed read; should it ever, the source's error still stands.
  const failed = sourceFailure(source, nbd.failure());
  if (failed) throw failed;
  return { written, blockDigest: await sourceDigest.digest(), dataBytes: nbd.bytesServed };
}

/**
 * Runs tasks together under one signal; the first failure (or the caller's abort) stops the
 * others, and that first failure is what is thrown, not the others' "aborted".
 */
async function allOrNothing<A, B>(signal: AbortSignal, start: (signal: AbortSignal) => [Promise<A>, Promise<B>]): Promise<[A, B]> {
  const inner = new AbortController();
  const onAbort = () => inner.abort(signal.reason);
  signal.throwIfAborted();
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    const failFast = <T>(p: Promise<T>) =>
      p.catch((error: unknown) => {
        if (!inner.signal.aborted) inner.abort(error);
        throw error;
      });
    const [a, b] = start(inner.signal);
    const results = await Promise.allSettled([failFast(a), failFast(b)]);
    signal.throwIfAborted();
    if (inner.signal.aborted) throw inner.signal.reason;
    return [(results[0] as PromiseFulfilledResult<A>).value, (results[1] as PromiseFulfilledResult<B>).value];
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** The source's own error for a failed read: coded errors as they are, anything else as unreadable. */
function sourceFailure(source: DiskSource, failure: unknown): unknown {
  if (failure === undefined) return undefined;
  if (failure instanceof EngineError) return failure;
  return jobFailure(
    "SOURCE_DISK_UNREADABLE",
    `Reading the source ${source.name} failed: ${failure instanceof Error ? failure.message : String(failure)}. ` +
      `Check that the disk is still there and reachable, then run the job again.`,
    failure,
  );
}
