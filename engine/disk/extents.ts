// The allocation map of a disk (`qemu-img map --output=json`; for VHDX its own allocation
// table, see vhdx-map.ts): which ranges hold data, which read as zeros, and where the data
// lies in the image file.

import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { DiskFormat, qemuDriver } from "./formats";
import { qemuImg, toDiskToolFailure } from "./qemu-img";
import { vhdxExtents } from "./vhdx-map";

export interface Extent {
  /** Guest offset. */
  start: number;
  length: number;
  /** Allocated in the image (false: a hole). */
  data: boolean;
  /** Reads as zeros. */
  zero: boolean;
  /** Where the bytes lie in the image file; absent for compressed data and for formats qemu cannot map. */
  offset?: number;
}

interface MapEntry {
  start: number;
  length: number;
  depth?: number;
  data: boolean;
  zero: boolean;
  offset?: number;
}

/**
 * The extents of a disk in guest order, covering [0, virtual size). Callers should have
 * inspected the disk first (inspectDisk refuses backing files and foreign extents).
 * qemu prints one extent per line, so the output is parsed as it streams.
 */
export async function allocatedExtents(path: string, format: DiskFormat, signal: AbortSignal): Promise<Extent[]> {
  if (format === "vhdx") {
    signal.throwIfAborted();
    const fromTable = await vhdxExtents(path);
    // A VHDX block is large (often 32 MiB) and mostly unwritten: the image file's own holes
    // say which parts of an allocated block hold data.
    if (fromTable) return withoutFileHoles(fromTable, await allocatedExtents(path, "raw", signal));
  }
  const extents: Extent[] = [];
  let pending = "";
  let bad: string | undefined;
  const takeLine = (line: string): void => {
    const text = line.trim().replace(/^\[/, "").replace(/[,\]]$/, "").trim();
    if (!text || bad !== undefined) return;
    try {
      const e = JSON.parse(text) as MapEntry;
      const extent: Extent = { start: e.start, length: e.length, data: e.data, zero: e.zero };
      if (e.offset !== undefined) extent.offset = e.offset;
      extents.push(extent);
    } catch {
      bad = text.slice(0, 200);
    }
  };
  try {
    await qemuImg(["map", "-f", qemuDriver(format), "--output=json", nodePath.resolve(path)], signal, (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      lines.forEach(takeLine);
    });
  } catch (error) {
    throw toDiskToolFailure(`map the allocated ranges of '${path}' (${format})`, error);
  }
  takeLine(pending);
  if (bad !== undefined) {
    throw jobFailure("DISK_TOOL_FAILED", `qemu-img map printed an unexpected line for '${path}': ${bad}`);
  }
  return extents;
}

/**
 * Splits the data extents of an image by the holes of the image file itself (`fileMap` is
 * the map of the file read as raw): a range of an allocated block that lies in a file hole
 * reads as zeros and need not be read.
 */
export function withoutFileHoles(extents: readonly Extent[], fileMap: readonly Extent[]): Extent[] {
  const out: Extent[] = [];
  const push = (e: Extent) => {
    const last = out[out.length - 1];
    if (last && last.zero && e.zero && last.start + last.length === e.start) last.length += e.length;
    else out.push(e);
  };
  // The piece of the file map holding `offset` (the map covers the file in order).
  const pieceAt = (offset: number): Extent | undefined => {
    let lo = 0;
    let hi = fileMap.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = fileMap[mid]!;
      if (offset < p.start) hi = mid - 1;
      else if (offset >= p.start + p.length) lo = mid + 1;
      else return p;
    }
    return undefined;
  };
  for (const e of extents) {
    if (e.zero || e.offset === undefined) {
      push({ ...e });
      continue;
    }
    let done = 0;
    while (done < e.length) {
      const fileOffset = e.offset + done;
      const piece = pieceAt(fileOffset);
      if (!piece) {
        // not in the map (past the file's end): keep the rest as data and let the reader fail loudly
        push({ start: e.start + done, length: e.length - done, data: true, zero: false, offset: fileOffset });
        break;
      }
      const length = Math.min(e.length - done, piece.start + piece.length - fileOffset);
      if (piece.data && !piece.zero) push({ start: e.start + done, length, data: true, zero: false, offset: fileOffset });
      else push({ start: e.start + done, length, data: false, zero: true });
      done += length;
    }
  }
  return out;
}
