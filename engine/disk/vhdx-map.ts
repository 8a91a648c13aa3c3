// The allocation map of a VHDX read from its own block allocation table (MS-VHDX), because
// qemu-img 7.2 maps a whole VHDX as one data extent without file offsets. With this map a
// VHDX is hashed and uploaded reading only its allocated blocks, in place: a local file, or a
// file on a share read by ranges (vhdxExtentsFrom takes any pread).
//
// Only what a plain (non-differencing) VHDX needs: the current header (a pending log means
// "ask qemu instead"), the region table, three metadata items and the BAT. Anything
// unexpected returns undefined and the caller falls back to qemu-img.

import { promises as fs } from "node:fs";
import { EngineError } from "../errors";
import type { Extent } from "./extents";

/** Exactly `length` bytes of the image file at `position`; throws when there are fewer. */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

const KIB = 1024;
const MIB = 1024 * KIB;
const HEADER_OFFSETS = [64 * KIB, 128 * KIB];
const REGION_TABLE_OFFSET = 192 * KIB;

const BAT_REGION = "2dc27766-f623-4200-9d64-115e9bfd4a08";
const METADATA_REGION = "8b7ca206-4790-4b9a-b8fe-575f050f886e";
const FILE_PARAMETERS = "caa16737-fa36-4d43-b3b6-33f0aa44e76b";
const VIRTUAL_DISK_SIZE = "2fa54224-cd1b-4876-b211-5dbed83bf4b8";
const LOGICAL_SECTOR_SIZE = "8141bf1d-a96f-4709-ba47-f233a8faab5f";

// BAT entry states (MS-VHDX 2.5.1.1).
const PAYLOAD_BLOCK_NOT_PRESENT = 0;
const PAYLOAD_BLOCK_UNDEFINED = 1;
const PAYLOAD_BLOCK_ZERO = 2;
const PAYLOAD_BLOCK_UNMAPPED = 3;
const PAYLOAD_BLOCK_FULLY_PRESENT = 6;

/** The extents of a local VHDX file in guest order with file offsets, or undefined if it cannot be mapped here. */
export async function vhdxExtents(path: string): Promise<Extent[] | undefined> {
  const file = await fs.open(path, "r");
  try {
    return await vhdxExtentsFrom(async (position, length) => {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await file.read(buffer, 0, length, position);
      if (bytesRead !== length) throw new Error("short read");
      return buffer;
    });
  } finally {
    await file.close();
  }
}

/**
 * The extents of the VHDX that `read` reads, or undefined if it cannot be mapped here. A coded
 * failure of the read itself (EngineError: the share went away) or an abort is thrown.
 */
export async function vhdxExtentsFrom(read: ReadAt, signal?: AbortSignal): Promise<Extent[] | undefined> {
  try {
    if ((await read(0, 8)).toString("latin1") !== "vhdxfile") return undefined;

    // The current header is the valid one with the higher sequence number; a log to replay
    // means the BAT on disk may be stale.
    let current: Buffer | undefined;
    for (const offset of HEADER_OFFSETS) {
      const header = await read(offset, 4 * KIB);
      if (header.toString("latin1", 0, 4) !== "head") continue;
      if (!current || header.readBigUInt64LE(8) > current.readBigUInt64LE(8)) current = header;
    }
    if (!current) return undefined;
    if (!isZeroGuid(current.subarray(48, 64))) return undefined; // LogGuid set: log pending

    const regions = await read(REGION_TABLE_OFFSET, 64 * KIB);
    if (regions.toString("latin1", 0, 4) !== "regi") return undefined;
    const regionCount = regions.readUInt32LE(8);
    let bat: { offset: number; length: number } | undefined;
    let metadata: { offset: number; length: number } | undefined;
    for (let i = 0; i < regionCount && 16 + (i + 1) * 32 <= regions.length; i++) {
      const entry = regions.subarray(16 + i * 32, 16 + (i + 1) * 32);
      const region = { offset: Number(entry.readBigUInt64LE(16)), length: entry.readUInt32LE(24) };
      const guid = formatGuid(entry.subarray(0, 16));
      if (guid === BAT_REGION) bat = region;
      else if (guid === METADATA_REGION) metadata = region;
      else if (entry.readUInt32LE(28) & 1) return undefined; // a required region we do not know
    }
    if (!bat || !metadata) return undefined;

    const meta = await read(metadata.offset, metadata.length);
    if (meta.toString("latin1", 0, 8) !== "metadata") return undefined;
    const items = new Map<string, Buffer>();
    const itemCount = meta.readUInt16LE(10);
    for (let i = 0; i < itemCount && 32 + (i + 1) * 32 <= meta.length; i++) {
      const entry = meta.subarray(32 + i * 32, 32 + (i + 1) * 32);
      const offset = entry.readUInt32LE(16);
      const length = entry.readUInt32LE(20);
      if (offset + length > meta.length) return undefined;
      items.set(formatGuid(entry.subarray(0, 16)), meta.subarray(offset, offset + length));
    }
    const parameters = items.get(FILE_PARAMETERS);
    const sizeItem = items.get(VIRTUAL_DISK_SIZE);
    const sectorItem = items.get(LOGICAL_SECTOR_SIZE);
    if (!parameters || !sizeItem || !sectorItem) return undefined;
    const blockSize = parameters.readUInt32LE(0);
    if (parameters.readUInt32LE(4) & 2) return undefined; // HasParent: a differencing disk
    const virtualSize = Number(sizeItem.readBigUInt64LE(0));
    const sectorSize = sectorItem.readUInt32LE(0);
    if (blockSize < MIB || blockSize % MIB !== 0 || (sectorSize !== 512 && sectorSize !== 4096)) return undefined;

    // Every chunkRatio payload entries the BAT holds one sector-bitmap entry (MS-VHDX 2.5.1).
    const chunkRatio = (2 ** 23 * sectorSize) / blockSize;
    const blocks = Math.ceil(virtualSize / blockSize);
    const entries = blocks + Math.floor((blocks - 1) / chunkRatio);
    if (entries * 8 > bat.length) return undefined;
    const table = await read(bat.offset, entries * 8);

    const extents: Extent[] = [];
    const push = (extent: Extent) => {
      const last = extents[extents.length - 1];
      const contiguous =
        last &&
        last.data === extent.data &&
        last.start + last.length === extent.start &&
        (extent.offset === undefined ? last.offset === undefined : last.offset !== undefined && last.offset + last.length === extent.offset);
      if (contiguous) last.length += extent.length;
      else extents.push(extent);
    };
    for (let block = 0; block < blocks; block++) {
      const entry = table.readBigUInt64LE((block + Math.floor(block / chunkRatio)) * 8);
      const state = Number(entry & 7n);
      const start = block * blockSize;
      const length = Math.min(blockSize, virtualSize - start);
      if (state === PAYLOAD_BLOCK_FULLY_PRESENT) {
        push({ start, length, data: true, zero: false, offset: Number(entry >> 20n) * MIB });
      } else if (
        state === PAYLOAD_BLOCK_NOT_PRESENT ||
        state === PAYLOAD_BLOCK_UNDEFINED ||
        state === PAYLOAD_BLOCK_ZERO ||
        state === PAYLOAD_BLOCK_UNMAPPED
      ) {
        push({ start, length, data: false, zero: true });
      } else {
        return undefined; // partially present blocks belong to differencing disks
      }
    }
    return extents;
  } catch (error) {
    if (error instanceof EngineError || signal?.aborted) throw error;
    return undefined;
  }
}

/** GUIDs are stored with their first three fields little-endian. */
function formatGuid(b: Buffer): string {
  const hex = (buf: Buffer) => buf.toString("hex");
  const le = (start: number, end: number) => hex(Buffer.from(b.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

function isZeroGuid(b: Buffer): boolean {
  return b.every((byte) => byte === 0);
}
