// The one copier from any DiskSource to a local image file of any format. Work follows the
// source's data: holes are never read, hashed or written. The target is created at its planned
// size (convert.ts), filled by qemu-img, and proven, on the hashing threads while its data is
// fsynced, to hold the source's content:
//   - A source that is a local image file (source.localFile): qemu-img converts from the file
//     itself (no NBD hop) while the hashing threads take the source's block digest from the
//     file (qemu-img keeps one core busy; the sha256 runs on the others). Then the source and
//     the output are compared byte for byte where either holds data (no second sha256 pass;
//     the reads come from the page cache).
//   - Any other source (a datastore, a cloud snapshot): served read-only over NBD on a unix
//     socket (nbd-export.ts), as virt-v2v serves its inputs to its copier. qemu-img asks for
//     block status and reads only the data ranges; the bytes are digested as they pass
//     (SparseBlockDigest: qemu-img reads in parallel, out of order, and the hashing threads
//     hold the reads back when they fall behind), and the output's block digest, computed
//     from the written file, must equal it. A failed source read fails the copy with the
//     source's own error.

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { EngineError, jobFailure } from "../errors";
import { BlockHash, blockDigestOf, DIGEST_BLOCK, SparseBlockDigest } from "./block-digest";
import { ConvertResult, convertInto, DiskRef, fsyncFile, plannedTargetSize, refuseOverwritingSource, TargetRef } from "./convert";
import { checkedDataRanges, rangeBytes } from "./data-ranges";
import { qemuDriver } from "./formats";
import { digestImage } from "./hash";
import { blockDigestOffThreads, digestFileOffThread, firstDifferenceOffThreads, hashBlockOffThread } from "./hash-workers";
import { openImageSource, openMappedImage } from "./image-source";
import { ImageDetails, inspectImage } from "./inspect";
import { serveOverNbd } from "./nbd-export";
import { patchImage } from "./patch-image";
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

// Shares of the whole run: the copy (and the source's digest), then the proof (the output's digest or the comparison).
const COPY_SHARE = 0.8;

/** What the copy step wrote, and the source's digests taken as it ran. */
interface Written {
  result: ConvertResult;
  blockDigest: string;
  /** The source's full sha256 (local files, when asked; over NBD it comes from the output). */
  sha256?: string;
  /** Bytes served over NBD. */
  dataBytes?: number;
  /** The blocks behind blockDigest (local files). */
  blocks?: BlockHash[];
}

export async function copyFromSource(source: DiskSource, options: CopyFromSourceOptions): Promise<CopiedDisk> {
  const { target, workDir, signal } = options;
  signal.throwIfAborted();
  const report = forwardProgress(options.onProgress);
  const virtualSize = plannedTargetSize({ path: source.name, virtualSize: source.virtualSize }, target, options.size);
  const ranges = checkedDataRanges(await source.dataRanges(signal), source.virtualSize, source.name);
  const targetPath = nodePath.resolve(target.path);
  // A patched file cannot give a full sha256 from the file: such a copy goes through NBD.
  const local = source.patches?.length && options.sha256 ? undefined : source.localFile;

  // Set once the target may have been written: a refusal before that leaves the path alone.
  const state = { touched: false };
  let copied = false;
  try {
    const onProgress = phase(report, 0, COPY_SHARE);
    const written = local
      ? await convertLocalFile(source, local, virtualSize, options, onProgress, state)
      : await copyOverNbd(source, virtualSize, ranges, options, onProgress, state);

    await options.beforeVerify?.(targetPath);
    // The proof runs on the hashing threads while the output's data reaches the disk.
    const output = await inspectImage(targetPath, target.format, signal, "output");
    const verify = { size: virtualSize, workDir, signal, onProgress: phase(report, COPY_SHARE, 1) };
    const [proof] = await Promise.all([
      local ? proveLocalCopy(local, output, written, verify) : proveNbdCopy(output, written.blockDigest, options.sha256 === true, verify),
      fsyncFile(targetPath),
    ]);
    if (!proof.equal) {
      throw jobFailure(
        "OUTPUT_VERIFICATION_FAILED",
        `The copy of the source ${source.name} to ${target.format} '${target.path}' does not hold the same data as ` +
          `the source: their contents differ although qemu-img reported success. The output is not usable; run the ` +
          `job again, and check the storage holding the output if it happens again.`,
      );
    }
    let blockDigest = proof.blockDigest;
    if (local && source.patches?.length) {
      // The output holds the file's content (proven above); the edits go over it and are read back.
      await patchImage(targetPath, target.format, source.patches, (offset, length) => source.read(offset, length, signal), { workDir, signal });
      await fsyncFile(targetPath);
      blockDigest = await patchedBlockDigest(virtualSize, written.blocks!, source, source.patches, signal);
    }
    report(1);
    copied = true;
    return {
      blockDigest,
      ...(proof.sha256 ? { sha256: proof.sha256 } : {}),
      virtualSize: written.result.virtualSize,
      fileSize: written.result.fileSize,
      dataBytes: written.dataBytes ?? rangeBytes(ranges),
    };
  } finally {
    if (state.touched && !copied) await fs.rm(targetPath, { force: true }).catch(() => undefined);
  }
}

/**
 * The block digest of the file's content with `patches` read from the source instead: the
 * file's block hashes, with the blocks the patches touch hashed again from the source.
 */
async function patchedBlockDigest(size: number, blocks: BlockHash[], source: DiskSource, patches: readonly DataRange[], signal: AbortSignal): Promise<string> {
  const hashes = new Map(blocks.map((b) => [b.index, b.hash]));
  const touched = new Set<number>();
  for (const p of patches) for (let i = Math.floor(p.start / DIGEST_BLOCK); i * DIGEST_BLOCK < p.start + p.length; i++) touched.add(i);
  for (const index of touched) {
    const start = index * DIGEST_BLOCK;
    const block = Buffer.alloc(Math.min(DIGEST_BLOCK, size - start));
    (await source.read(start, Math.min(block.length, source.virtualSize - start), signal)).copy(block);
    const hash = await hashBlockOffThread(block, true);
    if (hash) hashes.set(index, hash);
    else hashes.delete(index);
  }
  return blockDigestOf(size, [...hashes].map(([index, hash]) => ({ index, hash })));
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

/**
 * qemu-img reads the local image file itself (no NBD hop) while the hashing threads digest the
 * same file; the proof comes after (proveLocalCopy).
 */
async function convertLocalFile(
  source: DiskSource,
  file: LocalImageFile,
  size: number,
  options: CopyFromSourceOptions,
  onProgress: ProgressCallback,
  state: { touched: boolean },
): Promise<Written> {
  const hashing = new AbortController();
  const stop = () => hashing.abort(options.signal.reason);
  options.signal.addEventListener("abort", stop, { once: true });
  const digests = Promise.all([
    blockDigestOffThreads(file, size, { signal: hashing.signal }),
    options.sha256 ? digestFileOffThread(file.path, file.extents, size, { want: { sha256: true, blocks: false }, signal: hashing.signal }) : undefined,
  ]);
  void digests.catch(() => undefined); // awaited below; a failure must not go unhandled while qemu-img runs
  try {
    const result = await convertInto(
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
      { target: options.target, size: options.size, signal: options.signal, skipSync: true, onProgress },
    );
    const [blocks, full] = await digests;
    return { result, blockDigest: blocks.blockDigest, blocks: blocks.blocks, ...(full?.sha256 ? { sha256: full.sha256 } : {}) };
  } catch (error) {
    hashing.abort();
    await digests.catch(() => undefined);
    throw error;
  } finally {
    options.signal.removeEventListener("abort", stop);
  }
}

interface VerifyOptions {
  size: number;
  workDir: string;
  signal: AbortSignal;
  onProgress: ProgressCallback;
}

interface Proof {
  equal: boolean;
  blockDigest: string;
  sha256?: string;
}

/** The source file and the output compared byte for byte, on the hashing threads, where either holds data. */
async function proveLocalCopy(file: LocalImageFile, output: ImageDetails, written: Written, o: VerifyOptions): Promise<Proof> {
  const mapped = await openMappedImage(output, { workDir: o.workDir, signal: o.signal, purpose: "verifying the copy" });
  try {
    const mismatch = await firstDifferenceOffThreads(file, mapped, o.size, { signal: o.signal, onProgress: o.onProgress });
    return { equal: mismatch === undefined, blockDigest: written.blockDigest, ...(written.sha256 ? { sha256: written.sha256 } : {}) };
  } finally {
    await mapped.release();
  }
}

/** The output's digests, computed from the written file, against the block digest taken as the source was served. */
async function proveNbdCopy(output: ImageDetails, sourceDigest: string, sha256: boolean, o: VerifyOptions): Promise<Proof> {
  const digest = await digestImage(output, { sha256, blocks: true }, o);
  return { equal: digest.blocks === sourceDigest, blockDigest: sourceDigest, ...(digest.sha256 ? { sha256: digest.sha256 } : {}) };
}

/** qemu-img reads the source's NBD export; the bytes are digested as they are served. */
async function copyOverNbd(
  source: DiskSource,
  virtualSize: number,
  ranges: DataRange[],
  options: CopyFromSourceOptions,
  onProgress: ProgressCallback,
  state: { touched: boolean },
): Promise<Written> {
  const { signal } = options;
  const sourceDigest = new SparseBlockDigest(virtualSize, ranges);
  const nbd = await serveOverNbd(source, {
    socketDir: options.workDir,
    signal,
    dataRanges: ranges,
    onData: (offset, data) => sourceDigest.add(offset, data),
  });
  let result: ConvertResult;
  try {
    state.touched = true;
    result = await convertInto(
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
  return { result, blockDigest: await sourceDigest.digest(), dataBytes: nbd.bytesServed };
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
