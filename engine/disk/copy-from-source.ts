// The one copier from any DiskSource to a local image file of any format, as virt-v2v copies
// from its inputs' NBD endpoints: the source is served read-only over NBD on a unix socket
// (nbd-export.ts), and qemu-img converts from that export into a target created at its planned
// size (convert.ts, the same code file sources use). qemu-img asks for block status and reads
// only the data ranges, so work follows the source's data and there is no staging copy. The
// bytes are digested as they pass (SparseBlockDigest: qemu-img reads in parallel, out of
// order), and the output's block digest, computed afterwards from the written file, must equal
// it. A failed source read fails the copy with the source's own error.

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { EngineError, jobFailure } from "../errors";
import { SparseBlockDigest } from "./block-digest";
import { convertInto, plannedTargetSize, TargetRef } from "./convert";
import { checkedDataRanges } from "./data-ranges";
import { digestImage } from "./hash";
import { inspectImage } from "./inspect";
import { serveOverNbd } from "./nbd-export";
import { forwardProgress, phase, ProgressCallback } from "./progress";
import { DiskSource } from "./source";

export interface CopyFromSourceOptions {
  /** Written in place; removed again if the copy fails. */
  target: TargetRef;
  /** Virtual size wanted for the target, to grow it; never smaller than the source. */
  size?: number;
  /** Scratch space: the NBD socket, and a raw expansion if the output cannot be hashed in place. */
  workDir: string;
  signal: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface CopiedDisk {
  /** Block digest (block-digest.ts) of the target's content, equal to the source's. */
  blockDigest: string;
  /** The target's virtual size. */
  virtualSize: number;
  /** The target file's size. */
  fileSize: number;
  /** Bytes read from the source for the copy (its data; holes are never read). */
  dataBytes: number;
}

// Shares of the whole run: the copy (and the source's digest), then the output's digest.
const COPY_SHARE = 0.8;

export async function copyFromSource(source: DiskSource, options: CopyFromSourceOptions): Promise<CopiedDisk> {
  const { target, workDir, signal } = options;
  signal.throwIfAborted();
  const report = forwardProgress(options.onProgress);
  const sized = { path: source.name, virtualSize: source.virtualSize };
  const virtualSize = plannedTargetSize(sized, target, options.size);
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const sourceDigest = new SparseBlockDigest(virtualSize, ranges);
  const targetPath = nodePath.resolve(target.path);

  // Set once the target may have been written: a refusal before that leaves the path alone.
  let touched = false;
  let copied = false;
  try {
    const nbd = await serveOverNbd(source, {
      socketDir: workDir,
      signal,
      dataRanges: ranges,
      onData: (offset, data) => sourceDigest.add(offset, data),
    });
    let written;
    try {
      touched = true;
      written = await convertInto(
        {
          ...sized,
          description: `the source ${source.name}`,
          options: ["-f", "raw"],
          filename: nbd.uri,
        },
        { target, size: options.size, signal, onProgress: phase(report, 0, COPY_SHARE) },
      );
    } catch (error) {
      throw signal.aborted ? signal.reason : (sourceFailure(source, nbd.failure()) ?? error);
    } finally {
      await nbd.close();
    }
    // qemu-img cannot succeed past a failed read; should it ever, the source's error still stands.
    const failed = sourceFailure(source, nbd.failure());
    if (failed) throw failed;
    const blockDigest = sourceDigest.digest();

    const output = await inspectImage(targetPath, target.format, signal, "output");
    const outputDigest = await digestImage(output, { sha256: false, blocks: true }, {
      size: virtualSize,
      workDir,
      signal,
      onProgress: phase(report, COPY_SHARE, 1),
    });
    if (outputDigest.blocks !== blockDigest) {
      throw jobFailure(
        "OUTPUT_VERIFICATION_FAILED",
        `The copy of the source ${source.name} to ${target.format} '${target.path}' does not hold the same data as ` +
          `the source: their contents differ although qemu-img reported success. The output is not usable; run the ` +
          `job again, and check the storage holding the output if it happens again.`,
      );
    }
    report(1);
    copied = true;
    return { blockDigest, virtualSize: written.virtualSize, fileSize: written.fileSize, dataBytes: nbd.bytesServed };
  } finally {
    if (touched && !copied) await fs.rm(targetPath, { force: true }).catch(() => undefined);
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
