// Convert, then prove the output holds exactly the source's content. While qemu-img converts,
// the source is read once for two digests (padded with zeros to the output's virtual size):
// its full sha256, and a block digest that skips zero blocks. After, the output's block digest,
// whose cost follows the data and not the virtual size, must equal the source's. Equal block
// digests mean equal content, so the source's sha256 is the output's: the job's sha256.

import { jobFailure } from "../errors";
import { convertImage, ConvertOptions, plannedTargetSize } from "./convert";
import { digestImage } from "./hash";
import { DiskDigest } from "./hash-mapped-file";
import { inspectImage } from "./inspect";
import { forwardProgress, phase } from "./progress";

export interface ConvertAndVerifyOptions extends ConvertOptions {
  /** Scratch space for raw expansions of formats that cannot be hashed in place. */
  workDir: string;
  /** Test hook: runs after conversion, before the output is hashed. */
  beforeVerify?(targetPath: string): Promise<void>;
}

export interface VerifiedOutput {
  /** sha256 (hex) of the output's guest content (virtualSize bytes). */
  sha256: string;
  virtualSize: number;
  fileSize: number;
}

// Shares of the whole run: conversion and source digests together, then the output's digest.
const CONVERT_SHARE = 0.8;

export async function convertAndVerify(options: ConvertAndVerifyOptions): Promise<VerifiedOutput> {
  const { source: sourceRef, target, workDir, signal } = options;
  const report = forwardProgress(options.onProgress);
  const source = await inspectImage(sourceRef.path, sourceRef.format, signal, "source");
  const virtualSize = plannedTargetSize(source, target, options.size);

  // Both halves stop as soon as either fails (or the caller aborts).
  const inner = new AbortController();
  const onOuterAbort = () => inner.abort(signal.reason);
  if (signal.aborted) throw signal.reason;
  signal.addEventListener("abort", onOuterAbort, { once: true });
  let converted = 0;
  let hashedSource = 0;
  const firstPhase = phase(report, 0, CONVERT_SHARE);
  const both = () => firstPhase((converted + hashedSource) / 2);

  let sourceDigest: DiskDigest;
  try {
    const failFast = <T>(p: Promise<T>) =>
      p.catch((error: unknown) => {
        inner.abort(error);
        throw error;
      });
    const results = await Promise.allSettled([
      failFast(
        convertImage(source, {
          ...options,
          signal: inner.signal,
          onProgress: (f) => {
            converted = f;
            both();
          },
        }),
      ),
      failFast(
        digestImage(source, { sha256: true, blocks: true }, {
          size: virtualSize,
          workDir,
          signal: inner.signal,
          onProgress: (f) => {
            hashedSource = f;
            both();
          },
        }),
      ),
    ]);
    if (signal.aborted) throw signal.reason;
    // The first failure is the cause; the other half then failed only because it was stopped.
    const failure = inner.signal.aborted ? inner.signal.reason : undefined;
    if (failure !== undefined) throw failure;
    sourceDigest = (results[1] as PromiseFulfilledResult<DiskDigest>).value;
  } finally {
    signal.removeEventListener("abort", onOuterAbort);
  }

  await options.beforeVerify?.(target.path);
  const output = await inspectImage(target.path, target.format, signal, "output");
  const outputDigest = await digestImage(output, { sha256: false, blocks: true }, {
    size: virtualSize,
    workDir,
    signal,
    onProgress: phase(report, CONVERT_SHARE, 1),
  });
  if (outputDigest.blocks !== sourceDigest.blocks) {
    throw jobFailure(
      "OUTPUT_VERIFICATION_FAILED",
      `The converted disk '${target.path}' (${target.format}) does not hold the same data as the source ` +
        `'${sourceRef.path}' (${sourceRef.format}): their contents differ although qemu-img reported success. ` +
        `The output is not usable; run the job again, and check the storage holding the output if it happens again.`,
    );
  }
  report(1);
  return { sha256: sourceDigest.sha256!, virtualSize, fileSize: output.fileSize };
}
