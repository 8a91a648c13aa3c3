// $upload with platform "azure": the disk goes into a new managed disk as a fixed VHD through
// the direct-upload flow (PUT disk Upload -> beginGetAccess -> Put Page -> endGetAccess), its
// pages read straight from the source (no VHD is staged), and, when asked, a managed image is
// made from it. The fields, their checks and the run.

import { FieldError, jobFailure } from "../../errors";
import {
  ArmClient,
  azureDiskBytes,
  AzureResourceRef,
  azureRemovalOrder,
  beginWriteAccess,
  checkResourceGroup,
  createImage,
  createUploadDisk,
  describeAzureResource,
  diskId,
  endAccess,
  getDisk,
  imageId,
  MAX_DISK_BYTES,
  openArmClient,
  removeAzureResource,
  VHD_FOOTER,
  writePages,
} from "../../platforms/azure";
import { RunContext, SubmitContext } from "../definition";
import { checkCloudCredential } from "../storage-fields";
import { checkUploadInput, openUploadInput } from "../upload-input";
import type { UploadParams } from "./upload";

/** The body fields only azure uses (merged into the $upload schema). */
export const azureUploadProperties = {
  subscriptionId: { type: "string", description: "azure: the subscription (a GUID) that holds resourceGroup (required for azure)." },
  resourceGroup: { type: "string", description: "azure: the resource group the disk (and image) are created in (required for azure)." },
  createImage: { type: "boolean", description: "azure: also create a managed image from the uploaded disk; default false." },
  imageName: { type: "string", description: "azure: the managed image's name; default targetDiskName. Only with createImage: true." },
  osType: { type: "string", enum: ["Windows", "Linux"], description: "azure: the disk's (and image's) OS type; default Windows." },
  hyperVGeneration: { type: "string", enum: ["V1", "V2"], description: "azure: the VM generation the disk boots in; default V1." },
} as const;

export interface AzureUploadFields {
  subscriptionId?: string;
  resourceGroup?: string;
  createImage?: boolean;
  imageName?: string;
  osType?: "Windows" | "Linux";
  hyperVGeneration?: "V1" | "V2";
}

/** What a complete Azure upload job records (additionalInfo.artifacts). */
export interface AzureUploadArtifacts {
  platform: "azure";
  /** The location (e.g. eastus). */
  region: string;
  subscriptionId: string;
  resourceGroup: string;
  diskName: string;
  diskId: string;
  imageName?: string;
  imageId?: string;
  /** The image when one was created, else the disk (ARM ids). */
  targetId: string;
  /** The managed disk's size: N MiB, at least 20 MiB. */
  diskSizeBytes: number;
  /** The fixed VHD's size: diskSizeBytes + 512 (the footer). */
  uploadSizeBytes: number;
  /** Put Page requests sent (each <= 4 MiB, only non-zero sectors). */
  pageRangesWritten: number;
  /** Bytes sent. */
  sizeBytes: number;
  virtualSizeBytes: number;
  /** The block digest (engine/disk/block-digest.ts) of the guest content. */
  blockDigest: string;
  /** sha256 of the guest content (virtualSizeBytes bytes), with hashDisk. */
  sha256?: string;
  cloudResources: Array<AzureResourceRef & { region: string }>;
}

const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const LOCATION = /^[a-z][a-z0-9]{1,39}$/;
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
/** Disk and image names: 1..80 of letters, digits, _ . -; starting alphanumeric, ending alphanumeric or _. */
const RESOURCE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;
const JOB_TAG = "imageport-jobId";

export async function checkAzureFields(p: UploadParams, ctx: SubmitContext): Promise<FieldError[]> {
  const errors = await checkCloudCredential(p, "Azure", ctx);
  if (p.region === undefined) errors.push({ field: "region", message: "is required for platform azure: the Azure location to create the disk in, e.g. eastus" });
  else if (!LOCATION.test(p.region)) errors.push({ field: "region", message: `'${p.region}' is not an Azure location name (lowercase letters and digits, e.g. eastus, westeurope)` });
  if (p.subscriptionId === undefined) errors.push({ field: "subscriptionId", message: "is required for platform azure: the subscription id (a GUID) that holds resourceGroup" });
  else if (!GUID.test(p.subscriptionId)) errors.push({ field: "subscriptionId", message: "must be a subscription id, a GUID such as 00000000-0000-0000-0000-000000000000" });
  if (p.resourceGroup === undefined) errors.push({ field: "resourceGroup", message: "is required for platform azure: the resource group to create the disk in" });
  else if (!RESOURCE_GROUP.test(p.resourceGroup)) errors.push({ field: "resourceGroup", message: "must be 1..90 letters, digits, _ - . ( ), not ending with a period" });
  if (p.targetDiskName !== undefined && !RESOURCE_NAME.test(p.targetDiskName)) {
    errors.push({ field: "targetDiskName", message: "must be an Azure disk name: 1..80 letters, digits, _ . -, starting with a letter or digit and ending with a letter, digit or _" });
  }
  if (p.imageName !== undefined) {
    if (p.createImage !== true) errors.push({ field: "imageName", message: "applies only with createImage: true (no image is created otherwise); set createImage or leave imageName out" });
    else if (!RESOURCE_NAME.test(p.imageName)) errors.push({ field: "imageName", message: "must be an Azure image name: 1..80 letters, digits, _ . -, starting with a letter or digit and ending with a letter, digit or _" });
  }
  for (const field of ["targetSnapshotName", "createAmi", "amiName"] as const) {
    if (p[field] !== undefined) errors.push({ field, message: "applies to aws only; for azure name the disk with targetDiskName and the image with imageName" });
  }
  const tags = Object.entries(p.tags ?? {});
  if (tags.length > 49) errors.push({ field: "tags", message: `holds ${tags.length} tags; Azure allows 50 per resource and the engine adds ${JOB_TAG}` });
  for (const [key, value] of tags) {
    if (key.length > 512 || TAG_NAME_FORBIDDEN.test(key) || value.length > 256) {
      errors.push({ field: `tags.${key}`, message: "is not a valid Azure tag (name at most 512 characters without < > % & \\ ? /, value at most 256)" });
    }
  }
  return errors;
}

/** Azure-only fields sent with another platform: a 400 naming each. */
export function azureOnlyFieldErrors(p: UploadParams): FieldError[] {
  return (Object.keys(azureUploadProperties) as Array<keyof AzureUploadFields>)
    .filter((f) => p[f] !== undefined)
    .map((field) => ({ field, message: `applies to platform azure only; leave it out for ${p.platform}` }));
}

export async function runAzureUpload(p: UploadParams, ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  const location = p.region!;
  const group = { subscriptionId: p.subscriptionId!, resourceGroup: p.resourceGroup! };
  const diskName = p.targetDiskName ?? `imageport-${jobId}`;
  const wantImage = p.createImage ?? false;
  const imageName = p.imageName ?? diskName;
  const osType = p.osType ?? "Windows";
  const hyperVGeneration = p.hyperVGeneration ?? "V1";
  const tags = { ...p.tags, [JOB_TAG]: jobId };
  const dId = diskId(group, diskName);
  const iId = imageId(group, imageName);
  const arm = openArmClient(ctx.credential(p.platformCredentialId));
  // What this attempt created, removed again unless the job completes.
  const created: AzureResourceRef[] = [];
  let completed = false;
  try {
    await ctx.step("validate", async () => {
      await checkUploadInput(p, ctx);
      await checkResourceGroup(arm, group, signal);
      await refuseExisting(arm, { kind: "disk", id: dId }, jobId, "targetDiskName", signal);
      if (wantImage) await refuseExisting(arm, { kind: "image", id: iId }, jobId, "imageName", signal);
    });
    const input = await openUploadInput(p, ctx);
    try {
      const { vhd, written } = await ctx.step("upload", async (progress) => {
        const source = await input.source();
        const diskSizeBytes = azureDiskBytes(source.virtualSize);
        if (diskSizeBytes > MAX_DISK_BYTES) {
          throw jobFailure(
            "DISK_NOT_CONVERTIBLE",
            `The disk ${source.name} is ${source.virtualSize} bytes; an Azure managed disk upload holds at most ${MAX_DISK_BYTES} bytes (32 TiB). ` +
              `Shrink the disk below 32 TiB, or upload it to another platform.`,
          );
        }
        const uploadSizeBytes = diskSizeBytes + VHD_FOOTER;
        await createUploadDisk(arm, dId, { location, uploadSizeBytes, osType, hyperVGeneration, tags }, signal);
        created.push({ kind: "disk", id: dId });
        const sasUrl = await beginWriteAccess(arm, dId, signal);
        const written = await writePages({
          source,
          diskSizeBytes,
          sasUrl,
          diskId: dId,
          signal,
          sha256: p.hashDisk ?? false,
          onProgress: progress,
        });
        await endAccess(arm, dId, signal);
        const state = await getDisk(arm, dId, signal);
        if (state.diskState !== "Unattached") {
          throw jobFailure("PLATFORM_REQUEST_FAILED", `Azure reports disk ${dId} as ${state.diskState ?? "missing"} after endGetAccess instead of Unattached; run the job again.`);
        }
        return { vhd: { contentSize: source.virtualSize, diskSizeBytes, uploadSizeBytes }, written };
      });
      const madeImage = await ctx.step("register", async (progress) => {
        if (!wantImage) return false;
        await createImage(arm, iId, { location, diskId: dId, osType, hyperVGeneration, tags }, signal);
        created.push({ kind: "image", id: iId });
        progress(1);
        return true;
      });
      const artifacts: AzureUploadArtifacts = {
        platform: "azure",
        region: location,
        ...group,
        diskName,
        diskId: dId,
        ...(madeImage ? { imageName, imageId: iId } : {}),
        targetId: madeImage ? iId : dId,
        diskSizeBytes: vhd.diskSizeBytes,
        uploadSizeBytes: vhd.uploadSizeBytes,
        pageRangesWritten: written.rangesWritten,
        sizeBytes: written.bytesWritten,
        virtualSizeBytes: vhd.contentSize,
        blockDigest: written.blockDigest,
        ...(written.sha256 !== undefined ? { sha256: written.sha256 } : {}),
        cloudResources: created.map((r) => ({ ...r, region: location })),
      };
      ctx.setArtifacts({ ...artifacts, ...input.artifacts() });
      completed = true;
    } finally {
      await input.close();
    }
  } finally {
    if (!completed && created.length > 0) await removeCreated(arm, created, ctx);
  }
}

/**
 * A disk or image of that name must not exist, unless an earlier attempt of this same job made
 * it (the engine was restarted mid-upload): that one is removed and made again.
 */
async function refuseExisting(arm: ArmClient, ref: AzureResourceRef, jobId: string, field: string, signal: AbortSignal): Promise<void> {
  const found = await describeAzureResource(arm, ref, signal);
  if (!found.exists) return;
  if (found.tags?.[JOB_TAG] === jobId) {
    await removeAzureResource(arm, ref, signal);
    return;
  }
  throw jobFailure("OUTPUT_EXISTS", `The ${ref.kind} ${ref.id} already exists. Choose another ${field}, or delete that ${ref.kind} in Azure.`);
}

/** Best effort: a failed or cancelled upload leaves no disk or image behind (or says which it left). */
async function removeCreated(arm: ArmClient, created: AzureResourceRef[], ctx: RunContext): Promise<void> {
  for (const ref of azureRemovalOrder(created)) {
    try {
      // The job's own signal may already be aborted: the cleanup gets its own deadline.
      await removeAzureResource(arm, ref, AbortSignal.timeout(60_000));
    } catch (error) {
      ctx.warn("CLOUD_CLEANUP_FAILED", `The ${ref.kind} ${ref.id} this job created could not be removed (${(error as Error).message}); delete it in Azure.`);
    }
  }
}
