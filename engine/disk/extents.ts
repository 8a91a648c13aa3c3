// The allocation map of a disk (`qemu-img map --output=json`): which ranges hold data, which
// read as zeros, and where the data lies in the image file when qemu can say.

import * as nodePath from "node:path";
import { jobFailure } from "../errors";
import { DiskFormat, qemuDriver } from "./formats";
import { qemuImg, toDiskToolFailure } from "./qemu-img";

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
