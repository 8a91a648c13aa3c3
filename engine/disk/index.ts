// engine/disk: the engine's disk data path on top of qemu-img (formats, inspection, extent
// maps, hashing on hashing threads, conversion, disk sources and the one copier that verifies
// what it writes). Re-exports only.

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
export { convertDisk, convertInto, targetVirtualSize, resolveSubformat } from "./convert";
export type { ConvertInput, ConvertIntoOptions, ConvertOptions, ConvertResult, DiskRef, SizedSource, TargetRef } from "./convert";
export type { ProgressCallback } from "./progress";
export type { DataRange, DiskSource, LocalImageFile } from "./source";
export { checkedDataRanges, rangeBytes, rangePieces, readRanges } from "./data-ranges";
export type { RangePiece, ReadDataOptions } from "./data-ranges";
export { BlockDigest, SparseBlockDigest, DIGEST_BLOCK } from "./block-digest";
export { digestFileOffThread, hashBlockOffThread } from "./hash-workers";
export { serveOverNbd, NBD_MAX_REQUEST, MAX_DESCRIPTORS } from "./nbd-export";
export type { NbdExport, NbdExportOptions } from "./nbd-export";
export { openImageSource, openMappedImage } from "./image-source";
export type { MappedImage, MapImageOptions } from "./image-source";
export { copyFromSource, copyImageFile } from "./copy-from-source";
export type { CopiedDisk, CopyFromSourceOptions } from "./copy-from-source";
export { ContentDigests } from "./content-digests";
export type { ContentDigest } from "./content-digests";
export { Sha256Stream } from "./hash-workers";
export { openRangedSource, RANGED_FORMATS } from "./ranged-source";
export type { RangedFile } from "./ranged-source";
