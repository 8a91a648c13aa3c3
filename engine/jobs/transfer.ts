import { jobFailure } from "../errors";
import { copyFromSource, DiskFormat, DiskSource } from "../disk";
import { openStorage } from "../platforms";
import { Storage } from "../platforms/storage";
import { openVsphereSource, VsphereSourceFields } from "./vsphere-source";
import { RunContext, StepPlan } from "./definition";
import { LocationParam } from "./storage-fields";

/** One disk read from a storage location, converted, verified and written to another. */
export interface TransferSpec {
  input: { location: LocationParam; fileName: string; format: DiskFormat };
  output: { location: LocationParam; fileName: string; format: DiskFormat; subformat?: string; overwrite: boolean };
  /** Grow the output to at least this many bytes. */
  minSize?: number;
  /** Round the output's virtual size up to a whole MiB (what hypervisors and clouds expect). */
  alignToMiB?: boolean;
  /** Also compute the full-content sha256 (IPS hashDisk); it costs a pass over every byte. */
  sha256?: boolean;
  /**
   * The "prepare" step, between fetch and convert: returns what to copy instead of the source
   * (an overlay of it with the guest's edits), closed after the copy.
   */
  prepare?(source: DiskSource): Promise<DiskSource>;
}

export interface TransferResult {
  outputUri: string;
  sizeBytes: number;
  virtualSizeBytes: number;
  sourceVirtualSizeBytes: number;
  /** Full-content sha256, when hashDisk asked for it. */
  sha256?: string;
  /** The block digest (engine/disk/block-digest.ts) of the content. */
  blockDigest: string;
  output: Storage;
}

export const TRANSFER_STEPS: StepPlan[] = [
  { name: "validate", weight: 2 },
  { name: "fetch", weight: 8 },
  { name: "convert", weight: 75 },
  { name: "commit", weight: 15 },
];

/** A transfer with a "prepare" step (the guest's edits) before the copy. */
export const PREPARE_TRANSFER_STEPS: StepPlan[] = [
  { name: "validate", weight: 2 },
  { name: "fetch", weight: 8 },
  { name: "prepare", weight: 10 },
  { name: "convert", weight: 65 },
  { name: "commit", weight: 15 },
];

export async function transferDisk(spec: TransferSpec, ctx: RunContext): Promise<TransferResult> {
  const { signal, workDir } = ctx;
  const storage = openStorage(spec.input.location.location, credentialFor(spec.input.location, ctx));
  const target = openStorage(spec.output.location.location, credentialFor(spec.output.location, ctx));

  await ctx.step("validate", async () => {
    await storage.probe(signal);
    await prepareTarget(target, spec.output, ctx);
    if (!(await storage.stat(spec.input.fileName, signal))) {
      throw jobFailure(
        "SOURCE_DISK_NOT_FOUND",
        `The input disk '${spec.input.fileName}' does not exist in ${storage.uri}. Check inputImageFilename and inputStorageLocation.`,
      );
    }
  });

  // Read in place where it can be (a local file; raw, fixed VHD, VHDX on a share), else downloaded first.
  const source = await ctx.step("fetch", (progress) =>
    storage.openInput(spec.input.fileName, spec.input.format, workDir, { signal, onProgress: (done, total) => progress(total ? done / total : 1) }),
  );
  try {
    const prepared = spec.prepare ? await ctx.step("prepare", () => spec.prepare!(source)) : source;
    try {
      return await copyToTarget(prepared, target, spec.output, ctx, { size: outputSize(source.virtualSize, spec), sha256: spec.sha256 });
    } finally {
      if (prepared !== source) await prepared.close();
    }
  } finally {
    await source.close();
  }
}

/** A VM's disk on vCenter, read as of a snapshot and streamed into the output (no staging copy of the source). */
export interface VsphereTransferSpec {
  input: VsphereSourceFields;
  output: TransferSpec["output"];
  /** Also compute the full-content sha256 (IPS hashDisk); it costs a pass over every byte. */
  sha256?: boolean;
}

export const VSPHERE_TRANSFER_STEPS: StepPlan[] = [
  { name: "validate", weight: 2 },
  { name: "snapshot", weight: 3 },
  { name: "convert", weight: 80 },
  { name: "commit", weight: 14 },
  { name: "cleanup", weight: 1 },
];

export async function transferFromVsphere(spec: VsphereTransferSpec, ctx: RunContext): Promise<TransferResult & { sourceName: string; bytesRead: number }> {
  const target = openStorage(spec.output.location.location, credentialFor(spec.output.location, ctx));
  await ctx.step("validate", () => prepareTarget(target, spec.output, ctx));
  const disk = await openVsphereSource(spec.input, ctx);
  try {
    const result = await copyToTarget(disk.source, target, spec.output, ctx, { sha256: spec.sha256 });
    return { ...result, sourceName: disk.source.name, bytesRead: disk.source.bytesRead };
  } finally {
    await disk.close();
  }
}

/** Target checks before any work: reachable, no leftovers of an earlier attempt, no output in the way. */
async function prepareTarget(target: Storage, output: TransferSpec["output"], ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  await target.probe(signal);
  // A crash or cancel of an earlier attempt may have left temporary files: start clean.
  await target.removePartials(jobId, signal);
  if (!output.overwrite && (await target.stat(output.fileName, signal))) {
    throw jobFailure(
      "OUTPUT_EXISTS",
      `'${output.fileName}' already exists in ${target.uri}; it was left untouched. Choose another outputImageFilename or set overwriteOutput: true.`,
    );
  }
}

/** Copies the source into a staged output (the "convert" step), then commits it under its name (the "commit" step). */
async function copyToTarget(
  source: DiskSource,
  target: Storage,
  output: TransferSpec["output"],
  ctx: RunContext,
  options: { size?: number; sha256?: boolean },
): Promise<TransferResult> {
  const { signal, jobId, workDir } = ctx;
  const staged = await target.stage(output.fileName, { jobId, workDir, overwrite: output.overwrite, signal });
  let committed = false;
  try {
    const copied = await ctx.step("convert", (progress) =>
      copyFromSource(source, {
        target: { path: staged.path, format: output.format, subformat: output.subformat },
        size: options.size,
        sha256: options.sha256,
        workDir,
        signal,
        onProgress: progress,
      }),
    );
    await ctx.step("commit", (progress) => staged.commit({ signal, onProgress: (done, total) => progress(total ? done / total : 1) }));
    committed = true;
    return {
      outputUri: target.uri + encodeURIComponent(output.fileName),
      sizeBytes: copied.fileSize,
      virtualSizeBytes: copied.virtualSize,
      sourceVirtualSizeBytes: source.virtualSize,
      ...(copied.sha256 ? { sha256: copied.sha256 } : {}),
      blockDigest: copied.blockDigest,
      output: target,
    };
  } finally {
    if (!committed) await staged.discard().catch(() => undefined);
  }
}

const MIB = 1024 * 1024;

/** The output's virtual size when it differs from the input's, else undefined. */
function outputSize(inputSize: number, spec: TransferSpec): number | undefined {
  let size = Math.max(inputSize, spec.minSize ?? 0);
  if (spec.alignToMiB) size = Math.ceil(size / MIB) * MIB;
  return size > inputSize ? size : undefined;
}

function credentialFor(location: LocationParam, ctx: RunContext) {
  return location.credentialId ? ctx.credential(location.credentialId) : undefined;
}
