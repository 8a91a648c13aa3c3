// A VM's virtual disk as of a snapshot, read straight from its datastore: the descriptor names
// the flat extent files, ranged GETs read them. Which ranges hold data comes from changed-block
// tracking when the VM has it (QueryChangedDiskAreas with changeId "*": the allocated areas),
// else the whole disk is offered and the copier skips the zero blocks it reads.

import { jobFailure } from "../../errors";
import { DataRange, DiskSource } from "../../disk/source";
import { VsphereClient } from "./client";
import { DatastoreFiles, DatastorePath, formatDatastorePath, siblingPath } from "./datastore";
import { MoRef } from "./soap";
import { FlatExtent, parseDescriptor } from "./vmdk-descriptor";

const DESCRIPTOR_LIMIT = 64 * 1024;
/** Pages of QueryChangedDiskAreas before giving up (each answers a span; real vCenter caps its areas). */
const MAX_CBT_PAGES = 1_000_000;

export interface VsphereDiskSpec {
  vm: MoRef;
  snapshot: MoRef;
  deviceKey: number;
  /** The disk's backing file as of the snapshot. */
  file: DatastorePath;
  capacityBytes: number;
  /** Ask vCenter for the allocated areas (the VM tracks changed blocks and the snapshot has a changeId). */
  changeTracking: boolean;
}

/** `descriptor`: the descriptor's content when the caller has read it already (it is read once). */
export async function openVsphereDisk(client: VsphereClient, files: DatastoreFiles, spec: VsphereDiskSpec, signal: AbortSignal, descriptor?: Buffer): Promise<DiskSource> {
  const name = `${formatDatastorePath(spec.file)} on ${client.address}`;
  descriptor ??= await files.readSmall(spec.file, DESCRIPTOR_LIMIT, signal);
  const extents = parseDescriptor(descriptor, name);
  const described = extents.reduce((n, e) => n + e.length, 0);
  if (described !== spec.capacityBytes) {
    throw jobFailure(
      "SOURCE_DISK_UNREADABLE",
      `The disk ${name} is ${spec.capacityBytes} bytes for vCenter but its descriptor describes ${described}; the disk may be in the middle of a resize. Try again once it is done.`,
    );
  }
  return new VsphereDiskSource(client, files, spec, extents, name);
}

class VsphereDiskSource implements DiskSource {
  readonly virtualSize: number;
  /** Bytes of disk content fetched (the descriptor is not counted). */
  bytesRead = 0;

  constructor(
    private readonly client: VsphereClient,
    private readonly files: DatastoreFiles,
    private readonly spec: VsphereDiskSpec,
    private readonly extents: FlatExtent[],
    readonly name: string,
  ) {
    this.virtualSize = spec.capacityBytes;
  }

  async dataRanges(signal: AbortSignal): Promise<DataRange[]> {
    // ZERO extents never hold data, whatever else is known.
    const flat = this.extents.filter((e) => e.file !== undefined).map((e) => ({ start: e.start, length: e.length }));
    if (!this.spec.changeTracking) return flat;
    const allocated = await this.allocatedAreas(signal);
    return intersect(allocated, flat);
  }

  /** QueryChangedDiskAreas(changeId "*"), page after page until the whole disk is covered. */
  private async allocatedAreas(signal: AbortSignal): Promise<DataRange[]> {
    const out: DataRange[] = [];
    let offset = 0;
    for (let page = 0; offset < this.virtualSize; page++) {
      if (page >= MAX_CBT_PAGES) throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${this.client.address} kept answering QueryChangedDiskAreas for ${this.name} without covering the disk.`);
      const answer = await this.client.changedDiskAreas(this.spec.vm, this.spec.snapshot, this.spec.deviceKey, offset, "*", signal);
      const next = answer.startOffset + answer.length;
      if (answer.startOffset !== offset || next <= offset) {
        throw jobFailure(
          "PLATFORM_REQUEST_FAILED",
          `vCenter ${this.client.address} answered QueryChangedDiskAreas for ${this.name} at offset ${offset} with the span ${answer.startOffset}+${answer.length}; it must start at the offset asked for and advance.`,
        );
      }
      for (const area of answer.areas) {
        if (area.start < offset || area.start + area.length > next) {
          throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${this.client.address} reported a changed area ${area.start}+${area.length} outside the span it answered for ${this.name}.`);
        }
        const last = out[out.length - 1];
        if (last && last.start + last.length === area.start) last.length += area.length;
        else if (area.length > 0) out.push({ ...area });
      }
      offset = next;
    }
    return out;
  }

  async read(offset: number, length: number, signal: AbortSignal): Promise<Buffer> {
    let out: Buffer | undefined;
    for (const e of this.extents) {
      const from = Math.max(offset, e.start);
      const to = Math.min(offset + length, e.start + e.length);
      if (from >= to || e.file === undefined) continue;
      const data = await this.files.readRange(siblingPath(this.spec.file, e.file), e.fileOffset + (from - e.start), to - from, signal);
      this.bytesRead += data.length;
      // The usual case, one flat extent holding the whole range: the answer is the result.
      if (data.length === length) return data;
      out ??= Buffer.alloc(length);
      data.copy(out, from - offset);
    }
    return out ?? Buffer.alloc(length);
  }

  async close(): Promise<void> {
    // The session belongs to the caller (it also removes the snapshot).
  }
}

/** The parts of `a` inside `b` (both sorted, not overlapping). */
function intersect(a: DataRange[], b: DataRange[]): DataRange[] {
  const out: DataRange[] = [];
  let j = 0;
  for (const x of a) {
    while (j < b.length && b[j]!.start + b[j]!.length <= x.start) j++;
    for (let k = j; k < b.length && b[k]!.start < x.start + x.length; k++) {
      const start = Math.max(x.start, b[k]!.start);
      const end = Math.min(x.start + x.length, b[k]!.start + b[k]!.length);
      if (end > start) out.push({ start, length: end - start });
    }
  }
  return out;
}
