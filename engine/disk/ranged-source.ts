// A disk image read by ranges from where it lies (a file on an SMB share), for the formats
// whose layout the engine reads itself, so nothing is downloaded first:
//   - raw: the file is the disk;
//   - fixed VHD: the disk then a 512-byte footer, which gives the virtual size;
//   - VHDX: its block allocation table (vhdx-map.ts) maps guest blocks to file offsets.
// A ranged read gives no allocation information (libsmbclient has no SEEK_DATA), so a raw or
// fixed VHD is one data range, and a VHDX block the table marks present is read whole. Other
// layouts (qcow2, vmdk, dynamic VHD, a VHDX with a pending log) return undefined: the caller
// downloads the file and lets qemu-img read it (image-source.ts).

import { DiskFormat, SECTOR } from "./formats";
import { Extent } from "./extents";
import { ExtentSource } from "./extent-source";
import { DiskSource } from "./source";
import { vhdxExtentsFrom } from "./vhdx-map";

/** A file read by ranges (engine/platforms/smb/remote-file.ts). */
export interface RangedFile {
  readonly size: number;
  /** Up to `length` bytes at `offset`: fewer only past the end of the file. */
  read(offset: number, length: number, signal: AbortSignal): Promise<Buffer>;
  close(): Promise<void>;
}

/** Formats openRangedSource may serve; for any other the file must be downloaded. */
export const RANGED_FORMATS: readonly DiskFormat[] = ["raw", "vhd", "vhdx"];

/**
 * `file` as a DiskSource named `name`, or undefined when its layout needs qemu-img. The source
 * owns the file once returned (close() closes it); on undefined the caller still owns it.
 */
export async function openRangedSource(file: RangedFile, format: DiskFormat, name: string, signal: AbortSignal): Promise<DiskSource | undefined> {
  const extents = await rangedExtents(file, format, signal);
  if (!extents) return undefined;
  const last = extents[extents.length - 1];
  const virtualSize = last ? last.start + last.length : 0;
  return new ExtentSource(
    name,
    virtualSize,
    extents,
    async (out, outOffset, length, position, readSignal) => {
      const data = await file.read(position, length, readSignal);
      data.copy(out, outOffset);
      return data.length;
    },
    () => file.close(),
  );
}

async function rangedExtents(file: RangedFile, format: DiskFormat, signal: AbortSignal): Promise<Extent[] | undefined> {
  const exact = async (position: number, length: number) => {
    const data = await file.read(position, length, signal);
    if (data.length !== length) throw new Error("short read");
    return data;
  };
  if (format === "raw") return [{ start: 0, length: file.size, data: true, zero: false, offset: 0 }];
  if (format === "vhdx") return vhdxExtentsFrom(exact, signal);
  if (format !== "vhd" || file.size < SECTOR) return undefined;
  const virtualSize = fixedVhdSize(await exact(file.size - SECTOR, SECTOR));
  if (virtualSize === undefined) return undefined;
  const stored = Math.min(virtualSize, file.size - SECTOR);
  const extents: Extent[] = [{ start: 0, length: stored, data: true, zero: false, offset: 0 }];
  if (virtualSize > stored) extents.push({ start: stored, length: virtualSize - stored, data: false, zero: true });
  return extents;
}

// qemu's vpc driver takes a VHD's size from its CHS geometry unless the footer's creator is
// known to use the "current size" field, or the geometry is the largest one (vpc.c).
const CURRENT_SIZE_CREATORS = new Set(["win ", "qem2", "d2v ", "CTXS", "tap\0"]);
const VHD_MAX_GEOMETRY = 65535 * 16 * 255;
const VHD_FIXED = 2;

/** The virtual size qemu gives a fixed VHD with this footer; undefined if it is not one. */
export function fixedVhdSize(footer: Buffer): number | undefined {
  if (footer.toString("latin1", 0, 8) !== "conectix" || footer.readUInt32BE(60) !== VHD_FIXED) return undefined;
  const chsSectors = footer.readUInt16BE(56) * footer[58]! * footer[59]!;
  const currentSize = Number(footer.readBigUInt64BE(48));
  const useChs = !CURRENT_SIZE_CREATORS.has(footer.toString("latin1", 28, 32));
  return !useChs || chsSectors === VHD_MAX_GEOMETRY ? Math.floor(currentSize / SECTOR) * SECTOR : chsSectors * SECTOR;
}
