// Reads the subformat (fixed or dynamic) of VHD and VHDX files from their own headers:
// qemu-img 7.2 reports neither. A few hundred bytes are read; a file qemu opened but whose
// headers we cannot follow yields undefined rather than a guess.

import { promises as fs } from "node:fs";

type FileHandle = fs.FileHandle;

async function readAt(fh: FileHandle, position: number, length: number): Promise<Buffer | undefined> {
  if (position < 0) return undefined;
  const buf = Buffer.alloc(length);
  const { bytesRead } = await fh.read(buf, 0, length, position);
  return bytesRead === length ? buf : undefined;
}

// VHD footer (Microsoft VHD spec): cookie "conectix" at 0, disk type (big-endian) at 60.
const VHD_COOKIE = "conectix";
const VHD_DISK_TYPES: Record<number, string> = { 2: "fixed", 3: "dynamic", 4: "differencing" };

async function vhdSubformat(fh: FileHandle, fileSize: number): Promise<string | undefined> {
  // Dynamic disks keep a copy of the footer at offset 0; fixed disks only have it at the end.
  for (const position of [0, fileSize - 512]) {
    const footer = await readAt(fh, position, 512);
    if (footer && footer.toString("latin1", 0, 8) === VHD_COOKIE) return VHD_DISK_TYPES[footer.readUInt32BE(60)];
  }
  return undefined;
}

// VHDX (MS-VHDX): region table at 192 KiB -> metadata region -> File Parameters item, whose
// flags say LeaveBlockAllocated (fixed) and HasParent (differencing).
const VHDX_REGION_TABLE = 192 * 1024;
const METADATA_REGION = guidBytes("8B7CA206-4790-4B9A-B8FE-575F050F886E");
const FILE_PARAMETERS = guidBytes("CAA16737-FA36-4D43-B3B6-33F0AA44E76B");

/** A GUID's on-disk bytes: the first three fields little-endian, the rest as written. */
function guidBytes(guid: string): Buffer {
  const [a, b, c, d, e] = guid.split("-") as [string, string, string, string, string];
  const le = (hex: string) => Buffer.from(hex, "hex").reverse();
  return Buffer.concat([le(a), le(b), le(c), Buffer.from(d + e, "hex")]);
}

async function vhdxSubformat(fh: FileHandle): Promise<string | undefined> {
  const regions = await readAt(fh, VHDX_REGION_TABLE, 64 * 1024);
  if (!regions || regions.toString("latin1", 0, 4) !== "regi") return undefined;
  const regionCount = Math.min(regions.readUInt32LE(8), 2047);
  for (let i = 0; i < regionCount; i++) {
    const entry = regions.subarray(16 + i * 32, 48 + i * 32);
    if (!entry.subarray(0, 16).equals(METADATA_REGION)) continue;
    const regionOffset = Number(entry.readBigUInt64LE(16));
    const table = await readAt(fh, regionOffset, 64 * 1024);
    if (!table || table.toString("latin1", 0, 8) !== "metadata") return undefined;
    const itemCount = Math.min(table.readUInt16LE(10), 2047);
    for (let j = 0; j < itemCount; j++) {
      const item = table.subarray(32 + j * 32, 64 + j * 32);
      if (!item.subarray(0, 16).equals(FILE_PARAMETERS)) continue;
      const params = await readAt(fh, regionOffset + item.readUInt32LE(16), 8);
      if (!params) return undefined;
      const flags = params.readUInt32LE(4);
      if (flags & 2) return "differencing";
      return flags & 1 ? "fixed" : "dynamic";
    }
  }
  return undefined;
}

/** "fixed" | "dynamic" | "differencing" for vhd and vhdx files; undefined if unknown. */
export async function readVirtualDiskSubformat(
  path: string,
  format: "vhd" | "vhdx",
  fileSize: number,
): Promise<string | undefined> {
  const fh = await fs.open(path, "r");
  try {
    return format === "vhd" ? await vhdSubformat(fh, fileSize) : await vhdxSubformat(fh);
  } finally {
    await fh.close();
  }
}
