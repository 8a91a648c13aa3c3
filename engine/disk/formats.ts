// Disk formats the engine reads and writes, and how they map onto qemu-img's drivers.

export type DiskFormat = "raw" | "qcow2" | "vmdk" | "vhd" | "vhdx";

export const DISK_FORMATS: readonly DiskFormat[] = ["raw", "qcow2", "vmdk", "vhd", "vhdx"];

/** Subformats a target may ask for, per format; the first is the default. */
export const TARGET_SUBFORMATS: Readonly<Record<DiskFormat, readonly string[]>> = {
  raw: [],
  qcow2: [],
  vmdk: ["monolithicSparse", "streamOptimized"],
  vhd: ["dynamic", "fixed"],
  vhdx: ["dynamic", "fixed"],
};

const EXTENSIONS: Readonly<Record<string, DiskFormat>> = {
  ".raw": "raw",
  ".img": "raw",
  ".qcow2": "qcow2",
  ".vmdk": "vmdk",
  ".vhd": "vhd",
  ".vhdx": "vhdx",
};

/** The format a file name implies (case-insensitive), or undefined for an unknown extension. */
export function formatFromFilename(name: string): DiskFormat | undefined {
  const dot = name.lastIndexOf(".");
  if (dot < 0) return undefined;
  return EXTENSIONS[name.slice(dot).toLowerCase()];
}

export function isDiskFormat(value: string): value is DiskFormat {
  return (DISK_FORMATS as readonly string[]).includes(value);
}

/** qemu-img's driver name for a format (`-f`/`-O`): VHD is qemu's "vpc". */
export function qemuDriver(format: DiskFormat): string {
  return format === "vhd" ? "vpc" : format;
}

export const MiB = 1024 * 1024;
export const SECTOR = 512;

/** Largest VHD qemu-img writes (0xff000000 sectors, about 2040 GiB). */
export const VHD_MAX_VIRTUAL_SIZE = 0xff000000 * SECTOR;

export function roundUp(value: number, unit: number): number {
  return Math.ceil(value / unit) * unit;
}
