// engine/disk: the engine's disk data path on top of qemu-img (formats, inspection, extent
// maps, hashing, conversion with verification). Re-exports only.

export { DISK_FORMATS, TARGET_SUBFORMATS, formatFromFilename, isDiskFormat, qemuDriver } from "./formats";
export type { DiskFormat } from "./formats";
export { runTool, ToolError, KILL_GRACE_MS } from "./spawn";
export type { RunToolOptions, ToolResult } from "./spawn";
export { inspectDisk } from "./inspect";
export type { DiskInfo } from "./inspect";
export { allocatedExtents } from "./extents";
export type { Extent } from "./extents";
export { hashDisk } from "./hash";
export type { HashOptions } from "./hash";
export { convertDisk, targetVirtualSize, resolveSubformat } from "./convert";
export type { ConvertOptions, ConvertResult, DiskRef, TargetRef } from "./convert";
export { convertAndVerify } from "./convert-and-verify";
export type { ConvertAndVerifyOptions, VerifiedOutput } from "./convert-and-verify";
export type { ProgressCallback } from "./progress";
