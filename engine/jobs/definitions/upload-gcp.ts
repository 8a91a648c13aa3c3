// $upload with platform gcp (GCE manual import): the disk as disk.raw (grown to whole GiB) in a
// sparse oldgnu tar, gzipped and streamed into a GCS object through a resumable upload, then
// images.insert from that object (containerType TAR), waited on until the image is READY.
// A failed or cancelled job removes the image and object it made (best effort).

import { FieldError, jobFailure } from "../../errors";
import { checkedDataRanges, ContentDigests, DiskSource } from "../../disk";
import {
  checkBucket,
  describeRef,
  GcpClient,
  GcpResourceRef,
  gcpRemovalOrder,
  getImage,
  gsUrl,
  insertImage,
  openGcpClient,
  parallelGzip,
  rawSizeFor,
  removeGcpResource,
  sparseTar,
  SparseTarResult,
  storageUrl,
  uploadObject,
  waitForOperation,
} from "../../platforms/gcp";
import { RunContext, SubmitContext } from "../definition";
import { checkCloudCredential } from "../storage-fields";
import { checkUploadInput, openUploadInput } from "../upload-input";
import { inputLabel } from "../vsphere-source";
import type { UploadParams } from "./upload";

/** The body fields only gcp uses. */
export interface GcpUploadFields {
  project?: string;
  bucket?: string;
  targetImageName?: string;
}

const PROJECT_PATTERN = "^([a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$";
const BUCKET_PATTERN = "^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$";
const IMAGE_NAME_PATTERN = "^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$";
const GCP_LOCATION = /^[a-z]+(-[a-z]+[0-9]{1,2})?$|^[a-z]+[0-9]$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

export const GCP_UPLOAD_PROPERTIES = {
  project: { type: "string", pattern: PROJECT_PATTERN, description: "gcp: the project of the image; default the service-account key's project_id." },
  bucket: { type: "string", pattern: BUCKET_PATTERN, description: "gcp (required): an existing GCS bucket the disk archive is uploaded to (object imageport/<jobId>/disk.raw.tar.gz)." },
  targetImageName: {
    type: "string",
    pattern: IMAGE_NAME_PATTERN,
    description: "gcp: the GCE image's name; default targetSnapshotName when it is a valid image name, else imageport-<jobId>.",
  },
};

/** What a complete GCP upload job records (additionalInfo.artifacts). */
export interface GcpUploadArtifacts {
  platform: "gcp";
  project: string;
  /** The image's storage location, when region was given. */
  region?: string;
  imageName: string;
  imageId?: string;
  /** projects/<project>/global/images/<name>: what MCS and gcloud take. */
  targetId: string;
  bucket: string;
  objectName: string;
  /** disk.raw's size: the virtual size grown to whole GiB. */
  rawSizeBytes: number;
  diskSizeGb: number;
  /** Disk bytes stored in the archive: the data ranges, widened to 512-byte blocks (holes are not stored). */
  dataBytes: number;
  /** The archive's size: bytes sent. */
  sizeBytes: number;
  virtualSizeBytes: number;
  /** The block digest (engine/disk/block-digest.ts) of the guest content. */
  blockDigest: string;
  /** sha256 of the guest content (virtualSizeBytes bytes), with hashDisk. */
  sha256?: string;
  cloudResources: GcpResourceRef[];
}

export async function checkGcpFields(p: UploadParams, ctx: SubmitContext): Promise<FieldError[]> {
  const errors = await checkCloudCredential(p, "Gcp", ctx);
  if (p.bucket === undefined) errors.push({ field: "bucket", message: "is required for platform gcp: an existing GCS bucket to upload the disk archive to" });
  if (p.region !== undefined && !GCP_LOCATION.test(p.region)) {
    errors.push({ field: "region", message: `'${p.region}' is not a GCP location; for gcp, region is where the image is stored, e.g. us-central1 or us (or leave it out)` });
  }
  const aws = (["createAmi", "amiName", "targetDiskName"] as const).filter((f) => p[f] !== undefined);
  for (const field of aws) {
    errors.push({ field, message: `does not apply to platform gcp; name the GCE image with targetImageName` });
  }
  for (const [key, value] of Object.entries(p.tags ?? {})) {
    if (!LABEL_KEY.test(key)) errors.push({ field: `tags.${key}`, message: "is not a valid GCE label key (lowercase letter first, then at most 62 of a-z 0-9 _ -)" });
    else if (!LABEL_VALUE.test(value)) errors.push({ field: `tags.${key}`, message: "has a value that is not a valid GCE label value (at most 63 of a-z 0-9 _ -)" });
  }
  return errors;
}

/** Errors for fields that belong to gcp only, when another platform was asked for. */
export function gcpOnlyFields(p: UploadParams): FieldError[] {
  return (["project", "bucket", "targetImageName"] as const)
    .filter((f) => p[f] !== undefined)
    .map((field) => ({ field, message: `applies to platform gcp only; platform is ${p.platform}` }));
}

export function imageNameFor(p: UploadParams, jobId: string): string {
  if (p.targetImageName) return p.targetImageName;
  if (p.targetSnapshotName && new RegExp(IMAGE_NAME_PATTERN).test(p.targetSnapshotName)) return p.targetSnapshotName;
  return `imageport-${jobId.toLowerCase().replace(/[^a-z0-9-]/g, "-")}`.slice(0, 63).replace(/-+$/, "");
}

export async function runGcpUpload(p: UploadParams, ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  const client = openGcpClient(ctx.credential(p.platformCredentialId));
  const project = p.project ?? client.keyProject;
  if (!project) {
    throw jobFailure("CREDENTIAL_UNUSABLE", `No GCP project: the field project is absent and the service-account key of credential '${p.platformCredentialId}' has no project_id. Give project.`);
  }
  const bucket = p.bucket!;
  const imageName = imageNameFor(p, jobId);
  const objectName = `imageport/${jobId}/disk.raw.tar.gz`;
  const description = p.targetSnapshotName ?? `imageport ${inputLabel(p)}`;
  const labels: Record<string, string> = { ...p.tags, "imageport-job-id": jobId.toLowerCase().replace(/[^a-z0-9_-]/g, "-").slice(0, 63) };
  const created: GcpResourceRef[] = [];
  let completed = false;
  try {
    await ctx.step("validate", async () => {
      await checkUploadInput(p, ctx);
      await checkBucket(client, bucket, signal);
      if (await getImage(client, project, imageName, signal)) {
        throw jobFailure("OUTPUT_EXISTS", `An image named '${imageName}' already exists in project ${project}; choose another targetImageName or delete that image.`);
      }
    });
    const input = await openUploadInput(p, ctx);
    try {
      const uploaded = await ctx.step("upload", async (progress) =>
        uploadArchive(client, { bucket, objectName, jobId, disk: await input.source(), sha256: p.hashDisk ?? false, signal, progress }),
      );
      created.push({ kind: "object", id: objectName, bucket });
      const image = await ctx.step("register", async (progress) => {
        const op = await insertImage(client, { project, name: imageName, description, bucket, object: objectName, storageLocation: p.region, labels }, signal);
        created.push({ kind: "image", id: imageName, project });
        await waitForOperation(client, project, op, `creating image '${imageName}' from ${storageUrl(bucket, objectName)}`, signal, progress);
        const made = await getImage(client, project, imageName, signal);
        if (made?.status !== "READY") {
          throw jobFailure("PLATFORM_REQUEST_FAILED", `GCE finished creating image '${imageName}' but reports it as ${made?.status ?? "missing"}; run the job again.`);
        }
        return made;
      });
      const artifacts: GcpUploadArtifacts = {
        platform: "gcp",
        project,
        ...(p.region ? { region: p.region } : {}),
        imageName,
        ...(image.id ? { imageId: String(image.id) } : {}),
        targetId: `projects/${project}/global/images/${imageName}`,
        bucket,
        objectName,
        rawSizeBytes: uploaded.rawSize,
        diskSizeGb: uploaded.rawSize / 2 ** 30,
        dataBytes: uploaded.tar.dataBytes,
        sizeBytes: uploaded.sent,
        virtualSizeBytes: uploaded.virtualSize,
        blockDigest: uploaded.digest.blockDigest,
        ...(uploaded.digest.sha256 ? { sha256: uploaded.digest.sha256 } : {}),
        cloudResources: gcpRemovalOrder(created),
      };
      ctx.setArtifacts({ ...artifacts, ...input.artifacts() });
      completed = true;
    } finally {
      await input.close();
    }
  } finally {
    if (!completed && created.length > 0) await removeCreated(client, created, ctx);
  }
}

interface ArchiveUpload {
  bucket: string;
  objectName: string;
  jobId: string;
  disk: DiskSource;
  /** Also the full-content sha256 (hashDisk). */
  sha256: boolean;
  signal: AbortSignal;
  progress(fraction: number): void;
}

/**
 * Streams the sparse tar through gzip into the object, reading the disk's data once: a few MiB
 * of archive blocks being compressed plus the upload chunks in memory, no raw expansion.
 */
async function uploadArchive(client: GcpClient, a: ArchiveUpload) {
  const rawSize = rawSizeFor(a.disk.virtualSize);
  let tar: SparseTarResult | undefined;
  const ranges = checkedDataRanges(await a.disk.dataRanges(a.signal), a.disk.virtualSize, a.disk.name);
  const digests = new ContentDigests(a.disk.virtualSize, ranges, { sha256: a.sha256 });
  const archive = sparseTar(a.disk, rawSize, {
    signal: a.signal,
    ranges,
    onData: (offset, data) => digests.add(offset, data),
    onScanned: (bytes) => a.progress(a.disk.virtualSize === 0 ? 1 : (0.99 * bytes) / a.disk.virtualSize),
    onDone: (result) => (tar = result),
  });
  // Blocks deflated on several pool threads (one zlib stream kept one core busy and was the
  // upload's bottleneck); pulled by the upload, so reading and compressing keep pace with it.
  const body = parallelGzip(archive, { signal: a.signal });
  try {
    const object = await uploadObject(client, {
      bucket: a.bucket,
      name: a.objectName,
      contentType: "application/gzip",
      metadata: { "imageport-job-id": a.jobId },
      body,
      signal: a.signal,
    });
    if (!tar) throw new Error("the archive ended before the disk was read");
    const digest = await digests.digest();
    a.progress(1);
    return { rawSize, virtualSize: a.disk.virtualSize, tar, digest, sent: Number(object.size), object: gsUrl(a.bucket, a.objectName) };
  } catch (error) {
    await body.return(undefined).catch(() => undefined); // closes the archive if the upload never read to its end
    throw a.signal.aborted ? a.signal.reason : error;
  } finally {
    digests.close();
  }
}

/** Best effort: a failed or cancelled upload leaves no image or object behind (or says which it left). */
async function removeCreated(client: GcpClient, created: GcpResourceRef[], ctx: RunContext): Promise<void> {
  for (const ref of gcpRemovalOrder(created)) {
    try {
      // The job's own signal may already be aborted: the cleanup gets its own deadline.
      await removeGcpResource(client, ref, AbortSignal.timeout(60_000));
    } catch (error) {
      ctx.warn("CLOUD_CLEANUP_FAILED", `The ${describeRef(ref)} this job created could not be removed (${(error as Error).message}); delete it in GCP.`);
    }
  }
}

