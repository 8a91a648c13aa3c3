// Disk conversion with qemu-img. The target is always created first at the size it must have
// (fixed VHDs rounded up to a whole MiB for Azure, or a caller-requested larger size), then
// filled with `convert -n --target-is-zero`, which writes only the source's data: work follows
// the allocated data, and zero ranges stay holes in the output file. `convertInto` is the one
// implementation; its input is an image file (`convertImage`) or a DiskSource's NBD export
// (copy-from-source.ts).

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import {
  DiskFormat,
  MiB,
  qemuDriver,
  roundUp,
  SECTOR,
  TARGET_SUBFORMATS,
  VHD_MAX_VIRTUAL_SIZE,
} from "./formats";
import { ImageDetails, inspectImage } from "./inspect";
import { forwardProgress, ProgressCallback, qemuProgressParser } from "./progress";
import { qemuImg, toDiskToolFailure } from "./qemu-img";

export interface DiskRef {
  path: string;
  format: DiskFormat;
}

export interface TargetRef extends DiskRef {
  /** vhd/vhdx: "dynamic" (default) | "fixed"; vmdk: "monolithicSparse" (default) | "streamOptimized". */
  subformat?: string;
}

export interface ConvertOptions {
  source: DiskRef;
  /** Written in place; the caller owns this (temporary) path and removes it on failure. */
  target: TargetRef;
  /** Virtual size wanted for the target, to grow it; never smaller than the source. */
  size?: number;
  signal: AbortSignal;
  onProgress?: ProgressCallback;
}

export interface ConvertResult {
  virtualSize: number;
  fileSize: number;
  subformat?: string;
}

/** The subformat a target will get (the format's default when none is asked for). */
export function resolveSubformat(format: DiskFormat, subformat?: string): string | undefined {
  const allowed = TARGET_SUBFORMATS[format];
  if (subformat === undefined) return allowed[0];
  if (!allowed.includes(subformat)) {
    throw jobFailure(
      "DISK_NOT_CONVERTIBLE",
      allowed.length === 0
        ? `The ${format} format has no subformats, but '${subformat}' was asked for. Leave the subformat out.`
        : `The ${format} subformat '${subformat}' is not supported. Use one of: ${allowed.join(", ")}.`,
    );
  }
  return subformat;
}

/**
 * The virtual size a target of this format will have for a source (or requested) size: whole
 * sectors, and for a fixed VHD a whole number of MiB (Azure accepts only N MiB + 512 files).
 */
export function targetVirtualSize(sourceVirtualSize: number, format: DiskFormat, subformat?: string): number {
  const resolved = resolveSubformat(format, subformat);
  const sectors = roundUp(sourceVirtualSize, SECTOR);
  return format === "vhd" && resolved === "fixed" ? roundUp(sectors, MiB) : sectors;
}

/** What a target's size is planned from: the source's name (for messages) and virtual size. */
export interface SizedSource {
  path: string;
  virtualSize: number;
}

/** The target's virtual size, or a clear refusal (shrinking; beyond the VHD limit). */
export function plannedTargetSize(source: SizedSource, target: TargetRef, size?: number): number {
  if (size !== undefined && size < source.virtualSize) {
    throw jobFailure(
      "DISK_NOT_CONVERTIBLE",
      `The requested size ${size} bytes is smaller than the disk '${source.path}' (${source.virtualSize} ` +
        `bytes). Disks are never shrunk: ask for at least ${source.virtualSize} bytes, or leave the size out.`,
    );
  }
  const virtualSize = targetVirtualSize(size ?? source.virtualSize, target.format, target.subformat);
  if (target.format === "vhd" && virtualSize > VHD_MAX_VIRTUAL_SIZE) {
    throw jobFailure(
      "DISK_NOT_CONVERTIBLE",
      `A VHD holds at most ${VHD_MAX_VIRTUAL_SIZE} bytes (2040 GiB) and '${target.path}' would need ` +
        `${virtualSize}. Use the vhdx format for larger disks.`,
    );
  }
  return virtualSize;
}

function createOptions(format: DiskFormat, subformat: string | undefined): string[] {
  // force_size keeps qemu from rounding a VHD to CHS geometry (Azure rejects such sizes).
  if (format === "vhd") return ["-o", `subformat=${subformat},force_size=on`];
  if (subformat !== undefined) return ["-o", `subformat=${subformat}`];
  return [];
}

/** Refuses a target that is the source file itself (same device and inode). */
export async function refuseOverwritingSource(sourcePath: string, targetPath: string): Promise<void> {
  const [s, t] = await Promise.all([fs.stat(sourcePath), fs.stat(targetPath).catch(() => undefined)]);
  if (t && t.dev === s.dev && t.ino === s.ino) {
    throw jobFailure(
      "DISK_NOT_CONVERTIBLE",
      `The output '${targetPath}' is the source disk itself; converting would destroy it. Choose another output name.`,
    );
  }
}

export async function fsyncFile(path: string): Promise<void> {
  const fh = await fs.open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export async function convertDisk(options: ConvertOptions): Promise<ConvertResult> {
  const source = await inspectImage(options.source.path, options.source.format, options.signal, "source");
  return convertImage(source, options);
}

/** convertDisk for a source already inspected. */
export async function convertImage(source: ImageDetails, options: ConvertOptions): Promise<ConvertResult> {
  return convertInto(
    {
      path: source.path,
      virtualSize: source.virtualSize,
      description: `'${source.path}' (${source.format})`,
      options: ["-f", qemuDriver(source.format)],
      filename: source.path,
      check: (targetPath) => refuseOverwritingSource(source.path, targetPath),
    },
    options,
  );
}

/** What qemu-img convert reads: an image file, or an NBD export of a DiskSource. */
export interface ConvertInput extends SizedSource {
  /** The source in messages, e.g. "'/data/disk.vhd' (vhd)". */
  description: string;
  /** How qemu-img opens it (`-f DRIVER`, or `--image-opts`). */
  options: string[];
  /** The file name (or NBD URI, or image options) qemu-img opens. */
  filename: string;
  /** Runs before the target is (re)created, with its absolute path; throws to refuse. */
  check?(targetPath: string): Promise<void>;
}

export interface ConvertIntoOptions extends Omit<ConvertOptions, "source"> {
  /** Leave the fsync of the target to the caller (who overlaps it with other work); default false. */
  skipSync?: boolean;
}

/**
 * Creates the target at its planned size and fills it from `input` with
 * `convert -n --target-is-zero` (only data is written), then checks what was written.
 */
export async function convertInto(input: ConvertInput, options: ConvertIntoOptions): Promise<ConvertResult> {
  const { target, signal } = options;
  const subformat = resolveSubformat(target.format, target.subformat);
  const virtualSize = plannedTargetSize(input, target, options.size);
  const targetPath = nodePath.resolve(target.path);
  const report = forwardProgress(options.onProgress);
  await input.check?.(targetPath);

  const what = `convert ${input.description} to ${target.format} '${target.path}'`;
  try {
    // A fresh file: --target-is-zero below is only true of a newly created image.
    await fs.rm(targetPath, { force: true });
    const driver = qemuDriver(target.format);
    await qemuImg(
      ["create", "-q", "-f", driver, ...createOptions(target.format, subformat), targetPath, String(virtualSize)],
      signal,
    );
    await qemuImg(
      ["convert", "-p", "-n", "--target-is-zero", ...input.options, "-O", driver, input.filename, targetPath],
      signal,
      qemuProgressParser(report),
    );
    if (!options.skipSync) await fsyncFile(targetPath);
  } catch (error) {
    throw toDiskToolFailure(what, error);
  }

  const written = await inspectImage(targetPath, target.format, signal, "output");
  const problem = checkWritten(written, virtualSize, subformat);
  if (problem) throw jobFailure("OUTPUT_VERIFICATION_FAILED", `After the attempt to ${what}: ${problem}`);
  report(1);
  const result: ConvertResult = { virtualSize: written.virtualSize, fileSize: written.fileSize };
  if (subformat !== undefined) result.subformat = subformat;
  return result;
}

/** What is wrong with a freshly written target, if anything. */
function checkWritten(written: ImageDetails, virtualSize: number, subformat: string | undefined): string | undefined {
  if (written.virtualSize !== virtualSize) {
    return `the output's virtual size is ${written.virtualSize} bytes instead of ${virtualSize}.`;
  }
  if (subformat !== undefined && written.subformat !== undefined && written.subformat !== subformat) {
    return `the output is a ${written.subformat} ${written.format} instead of ${subformat}.`;
  }
  if (written.format === "vhd" && subformat === "fixed") {
    const expected = virtualSize + SECTOR;
    if (virtualSize % MiB !== 0 || written.fileSize !== expected) {
      return `the fixed VHD is ${written.fileSize} bytes; it must be a whole number of MiB plus the 512-byte footer (${expected}).`;
    }
  }
  return undefined;
}
