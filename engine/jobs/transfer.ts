import { jobFailure } from "../errors";
import { convertAndVerify, DiskFormat, inspectDisk } from "../disk";
import { openStorage } from "../platforms";
import { Storage } from "../platforms/storage";
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
}

export interface TransferResult {
  outputUri: string;
  sizeBytes: number;
  virtualSizeBytes: number;
  sourceVirtualSizeBytes: number;
  sha256: string;
  output: Storage;
}

export const TRANSFER_STEPS: StepPlan[] = [
  { name: "validate", weight: 2 },
  { name: "fetch", weight: 8 },
  { name: "convert", weight: 75 },
  { name: "commit", weight: 15 },
];

export async function transferDisk(spec: TransferSpec, ctx: RunContext): Promise<TransferResult> {
  const { signal, workDir, jobId } = ctx;
  const source = openStorage(spec.input.location.location, credentialFor(spec.input.location, ctx));
  const target = openStorage(spec.output.location.location, credentialFor(spec.output.location, ctx));

  await ctx.step("validate", async () => {
    await source.probe(signal);
    await target.probe(signal);
    // A crash or cancel of an earlier attempt may have left temporary files: start clean.
    await target.removePartials(jobId, signal);
    if (!(await source.stat(spec.input.fileName, signal))) {
      throw jobFailure(
        "SOURCE_DISK_NOT_FOUND",
        `The input disk '${spec.input.fileName}' does not exist in ${source.uri}. Check inputImageFilename and inputStorageLocation.`,
      );
    }
    if (!spec.output.overwrite && (await target.stat(spec.output.fileName, signal))) {
      throw jobFailure(
        "OUTPUT_EXISTS",
        `'${spec.output.fileName}' already exists in ${target.uri}; it was left untouched. Choose another outputImageFilename or set overwriteOutput: true.`,
      );
    }
  });

  const input = await ctx.step("fetch", (progress) =>
    source.fetch(spec.input.fileName, workDir, { signal, onProgress: (done, total) => progress(total ? done / total : 1) }),
  );
  try {
    const info = await inspectDisk(input.path, spec.input.format, signal);
    const staged = await target.stage(spec.output.fileName, { jobId, workDir, overwrite: spec.output.overwrite, signal });
    let committed = false;
    try {
      const size = outputSize(info.virtualSize, spec);
      const written = await ctx.step("convert", (progress) =>
        convertAndVerify({
          source: { path: input.path, format: spec.input.format },
          target: { path: staged.path, format: spec.output.format, subformat: spec.output.subformat },
          size,
          workDir,
          signal,
          onProgress: progress,
        }),
      );
      await ctx.step("commit", (progress) =>
        staged.commit({ signal, onProgress: (done, total) => progress(total ? done / total : 1) }),
      );
      committed = true;
      return {
        outputUri: target.uri + encodeURIComponent(spec.output.fileName),
        sizeBytes: written.fileSize,
        virtualSizeBytes: written.virtualSize,
        sourceVirtualSizeBytes: info.virtualSize,
        sha256: written.sha256,
        output: target,
      };
    } finally {
      if (!committed) await staged.discard().catch(() => undefined);
    }
  } finally {
    await input.release().catch(() => undefined);
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
