// Opens a disk as the format the caller names (never probing: qemu-img reads a fixed VHD as raw)
// and refuses disks that would make qemu-img read files the user did not name.

import { constants, promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { EngineErrorCode, jobFailure } from "../errors";
import { DiskFormat, qemuDriver } from "./formats";
import { qemuImg, qemuReason, toDiskToolFailure } from "./qemu-img";
import { ToolError } from "./spawn";
import { readVirtualDiskSubformat } from "./subformat";

export interface DiskInfo {
  format: DiskFormat;
  /** Bytes the guest sees. */
  virtualSize: number;
  /** Bytes allocated on the host file system. */
  actualSize: number;
  /** The file's length. */
  fileSize: number;
  /** vhd/vhdx: "fixed" | "dynamic"; vmdk: the create type (e.g. "monolithicSparse"). */
  subformat?: string;
}

/** DiskInfo plus what the hashing and conversion code needs to choose a safe path. */
export interface ImageDetails extends DiskInfo {
  /** Absolute path, as handed to qemu-img. */
  path: string;
  /** Some data is stored compressed (streamOptimized VMDK), so the file cannot be read directly. */
  compressed: boolean;
}

/** Whose disk it is decides the error code: a bad source is the user's, a bad output is ours. */
export type DiskRole = "source" | "output";

interface QemuInfo {
  "virtual-size": number;
  "actual-size"?: number;
  "backing-filename"?: string;
  "full-backing-filename"?: string;
  encrypted?: boolean;
  "format-specific"?: {
    type: string;
    data?: {
      "data-file"?: string;
      corrupt?: boolean;
      "create-type"?: string;
      extents?: { filename: string; compressed?: boolean }[];
    };
  };
}

export function inspectDisk(path: string, format: DiskFormat, signal: AbortSignal): Promise<DiskInfo> {
  return inspectImage(path, format, signal, "source").then(
    ({ format, virtualSize, actualSize, fileSize, subformat }) =>
      subformat === undefined
        ? { format, virtualSize, actualSize, fileSize }
        : { format, virtualSize, actualSize, fileSize, subformat },
  );
}

export async function inspectImage(
  path: string,
  format: DiskFormat,
  signal: AbortSignal,
  role: DiskRole,
): Promise<ImageDetails> {
  const abs = nodePath.resolve(path);
  const unreadable = (why: string, cause?: unknown) =>
    jobFailure(unreadableCode(role), `${role === "source" ? "Disk" : "Output disk"} file '${path}' ${why}`, cause);

  let stat;
  try {
    stat = await fs.stat(abs);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw jobFailure(
        role === "source" ? "SOURCE_DISK_NOT_FOUND" : "OUTPUT_VERIFICATION_FAILED",
        `Disk file '${path}' does not exist. Check the file name and the location it should be read from.`,
        error,
      );
    }
    throw unreadable(`cannot be opened (${code ?? String(error)}). Check its permissions.`, error);
  }
  if (!stat.isFile()) throw unreadable("is not a regular file. Name a disk image file.");
  try {
    await fs.access(abs, constants.R_OK);
  } catch (error) {
    throw unreadable("is not readable by the engine (permission denied). Make it readable by the engine's user.", error);
  }

  let info: QemuInfo;
  try {
    const { stdout } = await qemuImg(["info", "-f", qemuDriver(format), "--output=json", abs], signal);
    info = JSON.parse(stdout) as QemuInfo;
  } catch (error) {
    if (error instanceof ToolError && !error.toolMissing) {
      throw unreadable(
        `could not be read as a ${format} disk (qemu-img: ${qemuReason(error)}). Check that the file really is a ${format} ` +
          `disk (its extension must match its content) and that it is complete and undamaged.`,
        error,
      );
    }
    if (error instanceof SyntaxError) {
      throw jobFailure("DISK_TOOL_FAILED", `qemu-img info printed unexpected output for '${path}'.`, error);
    }
    throw toDiskToolFailure(`inspect '${path}'`, error);
  }

  const specific = info["format-specific"]?.data;
  const backing = info["backing-filename"] ?? info["full-backing-filename"];
  if (backing !== undefined) {
    throw unreadable(
      `is a differencing disk that depends on the backing file '${backing}'; reading it would also read ` +
        `that file. Only self-contained disks are accepted: flatten it first (e.g. qemu-img convert -f ` +
        `${qemuDriver(format)} -O ${qemuDriver(format)} <file> <flat file>) and use the flat copy.`,
    );
  }
  if (specific?.["data-file"] !== undefined) {
    throw unreadable(
      `keeps its data in the external file '${specific["data-file"]}'. Only self-contained disks are ` +
        `accepted: convert it to a qcow2 without an external data file first.`,
    );
  }
  if (info.encrypted) throw unreadable("is encrypted. Decrypt it (qemu-img convert) before using it.");
  if (specific?.corrupt) {
    throw unreadable("is marked corrupt by qemu. Repair it with 'qemu-img check -r all' first.");
  }
  const extents = specific?.extents ?? [];
  const foreign = extents.find((e) => nodePath.resolve(nodePath.dirname(abs), e.filename) !== abs);
  if (foreign) {
    throw unreadable(
      `is a multi-file VMDK whose data lives in '${foreign.filename}'. Only single-file VMDKs are accepted ` +
        `(monolithicSparse or streamOptimized): convert it with qemu-img convert -O vmdk first.`,
    );
  }

  let subformat: string | undefined = specific?.["create-type"];
  if (format === "vhd" || format === "vhdx") subformat = await readVirtualDiskSubformat(abs, format, stat.size);
  if (subformat === "differencing") {
    throw unreadable(`is a differencing ${format}. Merge it into its parent first and use the merged disk.`);
  }

  const details: ImageDetails = {
    path: abs,
    format,
    virtualSize: info["virtual-size"],
    actualSize: info["actual-size"] ?? stat.blocks * 512,
    fileSize: stat.size,
    compressed: extents.some((e) => e.compressed === true),
  };
  if (subformat !== undefined) details.subformat = subformat;
  return details;
}

function unreadableCode(role: DiskRole): EngineErrorCode {
  return role === "source" ? "SOURCE_DISK_UNREADABLE" : "OUTPUT_VERIFICATION_FAILED";
}
