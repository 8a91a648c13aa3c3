import { FieldError } from "../../errors";
import {
  AwsClients,
  AWS_REGION,
  CloudResourceRef,
  EBS_BLOCK,
  openAwsClients,
  checkRegionReachable,
  registerImage,
  removeResource,
  removalOrder,
  waitForSnapshot,
  writeSnapshot,
} from "../../platforms/aws";
import { JobDefinition, RunContext, SubmitContext } from "../definition";
import { AzureUploadFields, azureOnlyFieldErrors, azureUploadProperties, checkAzureFields, runAzureUpload } from "./upload-azure";
import { commonProperties, inputProperties, objectSchema } from "../schemas";
import { checkCloudCredential, checkInputFormat, checkLocalInputExists, checkStorageFields } from "../storage-fields";
import { checkUploadInput, openUploadInput, UploadInputFields, uploadSteps } from "../upload-input";
import { checkDiskInput, inputLabel, probeVsphereSource, VSPHERE_SOURCE_PROPERTIES } from "../vsphere-source";
import { checkGcpFields, GCP_UPLOAD_PROPERTIES, GcpUploadFields, gcpOnlyFields, runGcpUpload } from "./upload-gcp";

export interface UploadParams extends AzureUploadFields, GcpUploadFields, UploadInputFields {
  platform: "aws" | "azure" | "gcp";
  platformCredentialId: string;
  region?: string;
  targetSnapshotName?: string;
  targetDiskName?: string;
  createAmi?: boolean;
  amiName?: string;
  tags?: Record<string, string>;
  hashDisk?: boolean;
}

/** What a complete AWS upload job records (additionalInfo.artifacts). */
export interface AwsUploadArtifacts {
  platform: "aws";
  region: string;
  snapshotId: string;
  amiId?: string;
  amiName?: string;
  /** The AMI when one was registered, else the snapshot. */
  targetId: string;
  volumeSizeGiB: number;
  blockSize: number;
  blocksWritten: number;
  /** Bytes sent (blocksWritten x blockSize). */
  sizeBytes: number;
  virtualSizeBytes: number;
  /** The block digest (engine/disk/block-digest.ts) of the content sent. */
  blockDigest: string;
  /** Full-content sha256, with hashDisk. */
  sha256?: string;
  cloudResources: Array<CloudResourceRef & { region: string }>;
}

/** Any platform's region name; each platform checks its own form (AWS: AWS_REGION). */
const ANY_REGION_PATTERN = "^[a-z][a-z0-9-]{0,62}$";

/** Per platform: its submission checks (each refuses the other platforms' fields) and its run. */
const DRIVERS: Record<UploadParams["platform"], { validate(p: UploadParams, ctx: SubmitContext): Promise<FieldError[]>; run(p: UploadParams, ctx: RunContext): Promise<void> }> = {
  aws: { validate: async (p, ctx) => [...(await checkAwsFields(p, ctx)), ...gcpOnlyFields(p)], run: runAwsUpload },
  azure: { validate: async (p, ctx) => [...(await checkAzureFields(p, ctx)), ...gcpOnlyFields(p)], run: runAzureUpload },
  gcp: { validate: async (p, ctx) => [...(await checkGcpFields(p, ctx)), ...azureOnlyFieldErrors(p)], run: runGcpUpload },
};
const AMI_NAME_PATTERN = "^[A-Za-z0-9 ()\\[\\]./'@_-]{3,128}$";

/**
 * IPS $upload: a disk on a share uploaded to a cloud snapshot, then (AWS) registered as the AMI
 * MCS consumes. AWS (EBS direct API), Azure (managed-disk direct upload, upload-azure.ts) and
 * GCP (a sparse tar.gz in GCS -> image, upload-gcp.ts) are implemented.
 */
export const uploadJob: JobDefinition<UploadParams> = {
  type: "upload",
  summary: "Upload a disk (a file on a share, or a VM's disk on vCenter) to a cloud snapshot and register the image (AWS: EBS snapshot -> AMI; GCP: tar.gz in GCS -> image)",
  body: objectSchema(
    {
      ...commonProperties,
      ...inputProperties,
      ...VSPHERE_SOURCE_PROPERTIES,
      platform: { type: "string", enum: ["aws", "azure", "gcp"] },
      region: { type: "string", pattern: ANY_REGION_PATTERN, description: "aws: the AWS region, e.g. us-east-1 (required); azure: the location, e.g. eastus (required); gcp: where the image is stored, e.g. us-central1 or us (optional)." },
      targetDiskName: { type: "string", minLength: 1, maxLength: 255, description: "azure, gcp only." },
      targetSnapshotName: { type: "string", minLength: 1, maxLength: 255, description: "aws: the snapshot's Description and Name tag." },
      createAmi: { type: "boolean", description: "aws: register an AMI from the snapshot; default true." },
      amiName: { type: "string", pattern: AMI_NAME_PATTERN, description: "aws: the AMI's name; default targetSnapshotName, else imageport-<jobId>." },
      hashDisk: {
        type: "boolean",
        description:
          "Also compute the full-content sha256 of the disk (artifact sha256), a pass over every byte, zeros included (on a hashing thread). The block digest, whose cost follows the data, is recorded either way.",
      },
      ...azureUploadProperties,
      ...GCP_UPLOAD_PROPERTIES,
    },
    ["platform", "platformCredentialId"],
  ),
  async validate(p, ctx) {
    return [
      ...(await checkDiskInput(p as UploadParams & Record<string, unknown>, ctx, async () => [
        ...(await checkStorageFields("input", p.inputStorageLocation, p.inputImageFilename, ctx)),
        ...checkInputFormat(p.inputImageFilename, p.inputImageFormat),
        ...checkLocalInputExists(p.inputStorageLocation, p.inputImageFilename, ctx),
      ])),
      ...(await DRIVERS[p.platform].validate(p, ctx)),
    ];
  },
  dryRunProbe: probeVsphereSource,
  steps: uploadSteps,
  run: (p, ctx) => DRIVERS[p.platform].run(p, ctx),
};

async function checkAwsFields(p: UploadParams, ctx: SubmitContext): Promise<FieldError[]> {
  const errors = await checkCloudCredential(p, "Aws", ctx);
  if (p.region === undefined) errors.push({ field: "region", message: "is required for platform aws: the AWS region to upload to, e.g. us-east-1" });
  else if (!AWS_REGION.test(p.region)) errors.push({ field: "region", message: `'${p.region}' is not an AWS region name, e.g. us-east-1` });
  errors.push(...azureOnlyFieldErrors(p));
  if (p.targetDiskName !== undefined) {
    errors.push({ field: "targetDiskName", message: "applies to azure and gcp only; for aws name the snapshot with targetSnapshotName and the AMI with amiName" });
  }
  if (p.createAmi === false && p.amiName !== undefined) {
    errors.push({ field: "amiName", message: "cannot be combined with createAmi: false (no AMI is registered); leave one of them out" });
  }
  for (const key of Object.keys(p.tags ?? {})) {
    if (key.toLowerCase().startsWith("aws:") || key.length > 128) {
      errors.push({ field: `tags.${key}`, message: "is not a valid AWS tag key (at most 128 characters, not starting with 'aws:')" });
    }
  }
  return errors;
}

async function runAwsUpload(p: UploadParams, ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  const region = p.region!;
  const snapshotName = p.targetSnapshotName ?? `imageport ${inputLabel(p)}`;
  const createAmi = p.createAmi ?? true;
  const amiName = p.amiName ?? (p.targetSnapshotName && new RegExp(AMI_NAME_PATTERN).test(p.targetSnapshotName) ? p.targetSnapshotName : `imageport-${jobId}`);
  const tags = { ...p.tags, Name: snapshotName, "imageport:jobId": jobId };
  const clients = openAwsClients(ctx.credential(p.platformCredentialId), region);
  // What this attempt created, removed again unless the job completes.
  const created: CloudResourceRef[] = [];
  let completed = false;
  try {
    await ctx.step("validate", async () => {
      await checkUploadInput(p, ctx);
      await checkRegionReachable(clients, signal);
    });
    const input = await openUploadInput(p, ctx);
    try {
      const { written, virtualSize } = await ctx.step("upload", async (progress) => {
        const source = await input.source();
        const written = await writeSnapshot({
          clients,
          clientToken: jobId,
          description: snapshotName,
          tags,
          source,
          signal,
          onStarted: (id) => created.push({ kind: "snapshot", id }),
          onProgress: progress,
          sha256: p.hashDisk ?? false,
        });
        return { written, virtualSize: source.virtualSize };
      });
      const amiId = await ctx.step("register", async (progress) => {
        await waitForSnapshot(clients, written.snapshotId, signal, (f) => progress(createAmi ? f / 2 : f));
        if (!createAmi) return undefined;
        const id = await registerImage(clients, { name: amiName, description: snapshotName, snapshotId: written.snapshotId, tags }, signal);
        created.push({ kind: "image", id });
        return id;
      });
      const artifacts: AwsUploadArtifacts = {
        platform: "aws",
        region,
        snapshotId: written.snapshotId,
        ...(amiId ? { amiId, amiName } : {}),
        targetId: amiId ?? written.snapshotId,
        volumeSizeGiB: written.volumeSizeGiB,
        blockSize: EBS_BLOCK,
        blocksWritten: written.blocksWritten,
        sizeBytes: written.blocksWritten * EBS_BLOCK,
        virtualSizeBytes: virtualSize,
        blockDigest: written.blockDigest,
        ...(written.sha256 ? { sha256: written.sha256 } : {}),
        cloudResources: created.map((r) => ({ ...r, region })),
      };
      ctx.setArtifacts({ ...artifacts, ...input.artifacts() });
      completed = true;
    } finally {
      await input.close();
    }
  } finally {
    if (!completed && created.length > 0) await removeCreated(clients, created, ctx);
    clients.destroy();
  }
}

/** Best effort: a failed or cancelled upload leaves no snapshot or AMI behind (or says which it left). */
async function removeCreated(clients: AwsClients, created: CloudResourceRef[], ctx: RunContext): Promise<void> {
  for (const ref of removalOrder(created)) {
    try {
      // The job's own signal may already be aborted: the cleanup gets its own deadline.
      await removeResource(clients, ref, AbortSignal.timeout(30_000));
    } catch (error) {
      ctx.warn(
        "CLOUD_CLEANUP_FAILED",
        `The ${ref.kind} ${ref.id} this job created in ${clients.region} could not be removed (${(error as Error).message}); delete it in AWS.`,
      );
    }
  }
}
