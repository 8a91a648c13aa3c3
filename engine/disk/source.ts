// The one shape every disk source has, wherever the disk lies (a local image file, a vSphere
// datastore, later a cloud snapshot): its size, the ranges that may hold data, and ranged
// reads of its guest content. Consumers (the NBD export qemu-img converts from, the cloud
// block writers) never learn where the bytes come from, as virt-v2v's inputs expose a disk
// and its copier does not care which input made it.

import type { Extent } from "./extents";
import type { DiskFormat } from "./formats";

/** A guest range [start, start + length) that may hold data. */
export interface DataRange {
  start: number;
  length: number;
}

export interface DiskSource {
  /** For messages, without credentials: "[LocalDS_0] vm1/disk1.vmdk on 127.0.0.1:8989". */
  readonly name: string;
  /** Bytes of guest content. */
  readonly virtualSize: number;
  /**
   * The ranges that may hold data, in guest order, not overlapping, within [0, virtualSize).
   * Every byte outside them reads as zero, so consumers never read it. Asked once per use.
   */
  dataRanges(signal: AbortSignal): Promise<DataRange[]>;
  /** Exactly `length` bytes of guest content at `offset` (reads past the data give zeros). */
  read(offset: number, length: number, signal: AbortSignal): Promise<Buffer>;
  /**
   * Set when the disk is a local image file that qemu-img can open itself, every byte found
   * through `extents` (file offsets): the copier then lets qemu-img read it with no NBD hop.
   */
  readonly localFile?: LocalImageFile;
  /**
   * With localFile: guest ranges where the content is not the file's but what `read` returns
   * (a guest edited on an overlay of the file). The copier converts the file in one pass, then
   * writes these ranges over the output and checks them.
   */
  readonly patches?: readonly DataRange[];
  /** Bytes fetched from where the disk lies so far (for "bytes read vs allocated" figures). */
  readonly bytesRead: number;
  /** Releases connections and scratch files; safe to call twice. */
  close(): Promise<void>;
}

export interface LocalImageFile {
  path: string;
  format: DiskFormat;
  extents: readonly Extent[];
}
