// The disk an upload reads, whatever it is: a file in a location (read in place, by ranges on a
// share, or downloaded first where its format needs qemu-img; Storage.openInput) or a VM's
// disk on vCenter (read from the datastore as of a snapshot).
// Every cloud driver takes the DiskSource and never learns which it was. The file half is also
// the input of $createImage on vSphere (fetchFileInput).

import { jobFailure } from "../errors";
import { DiskFormat, DiskSource } from "../disk";
import { openStorage, Storage } from "../platforms";
import { RunContext, StepPlan } from "./definition";
import { inputFormat, LocationParam } from "./storage-fields";
import { openVsphereSource, readsFromVsphere, VsphereSourceFields } from "./vsphere-source";

export interface UploadInputFields extends VsphereSourceFields, FileInputFields {}

export interface UploadInput {
  /** The disk as a DiskSource. */
  source(): Promise<DiskSource>;
  /** Closes the source (and releases a downloaded copy), or removes the snapshot and logs out. */
  close(): Promise<void>;
  /** What the job records of its input: for a VM's disk, which disk and the bytes read from the datastore. */
  artifacts(): Record<string, unknown>;
}

/** The steps of an upload: the input is fetched (a file) or snapshotted (a VM), and a VM's snapshot removed at the end. */
export function uploadSteps(p: VsphereSourceFields): StepPlan[] {
  return readsFromVsphere(p)
    ? [
        { name: "validate", weight: 2 },
        { name: "snapshot", weight: 3 },
        { name: "upload", weight: 84 },
        { name: "register", weight: 10 },
        { name: "cleanup", weight: 1 },
      ]
    : [
        { name: "validate", weight: 2 },
        { name: "fetch", weight: 8 },
        { name: "upload", weight: 80 },
        { name: "register", weight: 10 },
      ];
}

/** The fields of a disk given as a file on a share. */
export interface FileInputFields {
  inputStorageLocation: LocationParam;
  inputImageFilename: string;
  inputImageFormat?: DiskFormat;
}

function inputStorage(p: FileInputFields, ctx: RunContext): Storage {
  return openStorage(p.inputStorageLocation.location, p.inputStorageLocation.credentialId ? ctx.credential(p.inputStorageLocation.credentialId) : undefined);
}

/** The input file's URI, for artifacts ("file:///dir/disk.vhdx", "smb://host/share/disk.vhdx"). */
export function fileInputUri(p: FileInputFields, ctx: RunContext): string {
  return inputStorage(p, ctx).uri + encodeURIComponent(p.inputImageFilename);
}

/** In the `validate` step: the share answers and the input file exists. */
export async function checkFileInput(p: FileInputFields, ctx: RunContext): Promise<void> {
  const storage = inputStorage(p, ctx);
  await storage.probe(ctx.signal);
  if (!(await storage.stat(p.inputImageFilename, ctx.signal))) {
    throw jobFailure(
      "SOURCE_DISK_NOT_FOUND",
      `The input disk '${p.inputImageFilename}' does not exist in ${storage.uri}. Check inputImageFilename and inputStorageLocation.`,
    );
  }
}

/**
 * The `fetch` step: the file is opened as a DiskSource, in place where it can be, else
 * downloaded to the work directory first (Storage.openInput). The caller must close() it.
 */
export async function fetchFileInput(p: FileInputFields, ctx: RunContext): Promise<UploadInput> {
  const { signal, workDir } = ctx;
  const storage = inputStorage(p, ctx);
  const format = inputFormat(p.inputImageFilename, p.inputImageFormat)!;
  const source = await ctx.step("fetch", (progress) =>
    storage.openInput(p.inputImageFilename, format, workDir, { signal, onProgress: (done, total) => progress(total ? done / total : 1) }),
  );
  return {
    source: async () => source,
    artifacts: () => ({}),
    close: () => source.close().catch(() => undefined),
  };
}

/** In the `validate` step: a file input exists (a vSphere input is checked when it is opened). */
export async function checkUploadInput(p: UploadInputFields, ctx: RunContext): Promise<void> {
  if (readsFromVsphere(p)) return;
  await checkFileInput(p, ctx);
}

/** The `fetch` step (a file) or the `snapshot` step (a VM's disk); the caller must close() it. */
export async function openUploadInput(p: UploadInputFields, ctx: RunContext): Promise<UploadInput> {
  if (readsFromVsphere(p)) {
    const disk = await openVsphereSource(p, ctx);
    return {
      source: async () => disk.source,
      close: disk.close,
      artifacts: () => ({ sourceDisk: disk.source.name, sourceBytesRead: disk.source.bytesRead }),
    };
  }
  return fetchFileInput(p, ctx);
}
