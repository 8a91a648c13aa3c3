// $createImage (an imageport extension, after IPS's New-IpsAwsImage): the bootable image MCS
// consumes. AWS: an AMI registered from an EBS snapshot an upload left. Azure: a full snapshot
// copied from a managed disk an upload left. vSphere: a new VM whose one disk holds a disk file
// from a share, with a snapshot (create-image-vsphere.ts). On AWS and Azure the job owns only the
// image; the snapshot or disk it came from stays the upload's.

import { FieldError, jobFailure } from "../../errors";
import { AWS_REGION, describeResource, findOwnImage, openAwsClients, checkRegionReachable, registerImage, removeResource, waitForImage, waitForSnapshot } from "../../platforms/aws";
import type { AwsClients } from "../../platforms/aws";
import { ArmClient, createSnapshot, describeAzureResource, getDisk, openArmClient, parseDiskId, removeAzureResource, snapshotId } from "../../platforms/azure";
import { JobDefinition, RunContext, StepPlan, SubmitContext } from "../definition";
import { commonProperties, objectSchema } from "../schemas";
import { checkCloudCredential } from "../storage-fields";
import { checkVsphereImageFields, probeVsphereImage, runVsphereImage, VSPHERE_IMAGE_FIELDS, VSPHERE_IMAGE_PROPERTIES, VSPHERE_IMAGE_STEPS, VsphereImageFields } from "./create-image-vsphere";

export interface CreateImageParams extends VsphereImageFields {
  platform: "aws" | "azure" | "vsphere";
  /** aws, azure: the cloud credential (vsphere uses vsphereCredentialId). */
  platformCredentialId?: string;
  imageName: string;
  /** aws: the region of the snapshot and the AMI. */
  region?: string;
  /** aws: the EBS snapshot the AMI boots from. */
  snapshotId?: string;
  /** azure: the managed disk (ARM id) the snapshot copies. */
  diskId?: string;
  tags?: Record<string, string>;
  resourceLocationId?: string;
}

/** What a complete createImage job records (additionalInfo.artifacts). */
export interface CreateImageArtifacts {
  platform: "aws" | "azure";
  region: string;
  /** aws: the AMI id; azure: the snapshot's ARM id. */
  imageId: string;
  imageName: string;
  /** What the image was made from (the snapshot id or the disk's ARM id). */
  sourceId: string;
  /** azure: where the snapshot is. */
  subscriptionId?: string;
  resourceGroup?: string;
  cloudResources: Array<{ kind: "image" | "snapshot"; id: string; region: string }>;
}

const AWS_SNAPSHOT = /^snap-[0-9a-f]{8,17}$/;
const AMI_NAME = /^[A-Za-z0-9 ()[\]./'@_-]{3,128}$/;
/** Azure snapshot names: 1..80 letters, digits, _ . -; starting alphanumeric, ending alphanumeric or _. */
const AZURE_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?$/;
const AZURE_JOB_TAG = "imageport-jobId";

/** The fields only aws, only azure take (each required there). */
const AWS_FIELDS = ["region", "snapshotId"] as const;
const AZURE_FIELDS = ["diskId"] as const;
const CLOUD_STEPS: StepPlan[] = [
  { name: "validate", weight: 10 },
  { name: "register", weight: 90 },
];

/** Per platform: the fields only it takes, its submission checks, its steps and its run. */
const PLATFORMS: Record<
  CreateImageParams["platform"],
  { fields: readonly string[]; validate(p: CreateImageParams, ctx: SubmitContext): Promise<FieldError[]>; steps: StepPlan[]; run(p: CreateImageParams, ctx: RunContext): Promise<void> }
> = {
  aws: { fields: AWS_FIELDS, validate: (p, ctx) => checkCloudFields(p, "Aws", AWS_FIELDS, ctx), steps: CLOUD_STEPS, run: runAws },
  azure: { fields: AZURE_FIELDS, validate: (p, ctx) => checkCloudFields(p, "Azure", AZURE_FIELDS, ctx), steps: CLOUD_STEPS, run: runAzure },
  vsphere: { fields: VSPHERE_IMAGE_FIELDS, validate: checkVsphereImageFields, steps: VSPHERE_IMAGE_STEPS, run: runVsphereImage },
};

export const createImageJob: JobDefinition<CreateImageParams> = {
  type: "createImage",
  summary:
    "Make the bootable image MCS consumes (AWS: AMI from an uploaded EBS snapshot; Azure: snapshot of an uploaded managed disk; vSphere: a VM with a snapshot, its disk from a file on a share)",
  body: objectSchema(
    {
      ...commonProperties,
      platform: { type: "string", enum: ["aws", "azure", "vsphere"] },
      imageName: {
        type: "string",
        minLength: 1,
        maxLength: 128,
        description:
          "aws: the AMI's name (3..128 of letters, digits, space ( ) [ ] . / ' @ _ -); azure: the snapshot's name (1..80 of letters, digits, _ . -); vsphere: the new VM's name (1..80, no / \\ %), which no VM in the datacenter may have.",
      },
      region: { type: "string", minLength: 1, maxLength: 64, description: "aws: the region of the snapshot and the AMI, e.g. us-east-1 (required for aws)." },
      snapshotId: { type: "string", minLength: 1, maxLength: 64, description: "aws: the completed EBS snapshot the AMI boots from (required for aws), e.g. an UploadJob's snapshotId." },
      diskId: { type: "string", minLength: 1, maxLength: 512, description: "azure: the ARM id of the managed disk to snapshot (required for azure), e.g. an UploadJob's diskId. The snapshot goes in the disk's resource group and location." },
      ...VSPHERE_IMAGE_PROPERTIES,
    },
    ["platform", "imageName"],
  ),
  async validate(p, ctx) {
    const errors = await PLATFORMS[p.platform].validate(p, ctx);
    // Each platform refuses the fields only the others take.
    for (const [other, { fields }] of Object.entries(PLATFORMS)) {
      if (other === p.platform) continue;
      for (const field of fields) {
        if ((p as unknown as Record<string, unknown>)[field] !== undefined && !PLATFORMS[p.platform].fields.includes(field)) {
          errors.push({ field, message: `applies to platform ${other} only; leave it out for ${p.platform}` });
        }
      }
    }
    return errors;
  },
  // vsphere: the validate step's checks on vCenter, live (the clouds' checks need no probe).
  dryRunProbe: async (p, ctx) => (p.platform === "vsphere" ? probeVsphereImage(p, ctx) : []),
  steps: (p) => PLATFORMS[p.platform].steps,
  run: (p, ctx) => PLATFORMS[p.platform].run(p, ctx),
};

/** aws, azure: the cloud credential, the platform's required fields and its name rules. */
async function checkCloudFields(p: CreateImageParams, credentialType: "Aws" | "Azure", required: readonly string[], ctx: SubmitContext): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (p.platformCredentialId === undefined) errors.push({ field: "platformCredentialId", message: `is required for platform ${p.platform}: an ${credentialType} credential` });
  else errors.push(...(await checkCloudCredential({ platform: p.platform, platformCredentialId: p.platformCredentialId }, credentialType, ctx)));
  for (const field of required) {
    if ((p as unknown as Record<string, unknown>)[field] === undefined) errors.push({ field, message: `is required for platform ${p.platform}` });
  }
  if (p.platform === "aws") {
    if (p.region !== undefined && !AWS_REGION.test(p.region)) errors.push({ field: "region", message: `'${p.region}' is not an AWS region name, e.g. us-east-1` });
    if (p.snapshotId !== undefined && !AWS_SNAPSHOT.test(p.snapshotId)) errors.push({ field: "snapshotId", message: `'${p.snapshotId}' is not an EBS snapshot id (snap- and 8 or 17 hex digits)` });
    if (!AMI_NAME.test(p.imageName)) errors.push({ field: "imageName", message: "must be an AMI name: 3..128 of letters, digits, space and ( ) [ ] . / ' @ _ -" });
  } else {
    if (p.diskId !== undefined && !parseDiskId(p.diskId)) {
      errors.push({ field: "diskId", message: "must be a managed disk's ARM id: /subscriptions/<id>/resourceGroups/<group>/providers/Microsoft.Compute/disks/<name>" });
    }
    if (!AZURE_NAME.test(p.imageName)) errors.push({ field: "imageName", message: "must be an Azure snapshot name: 1..80 letters, digits, _ . -, starting with a letter or digit and ending with a letter, digit or _" });
  }
  return errors;
}

async function runAws(p: CreateImageParams, ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  const clients = openAwsClients(ctx.credential(p.platformCredentialId!), p.region!);
  let amiId: string | undefined;
  let completed = false;
  try {
    await ctx.step("validate", async () => {
      await checkRegionReachable(clients, signal);
      const source = await describeResource(clients, { kind: "snapshot", id: p.snapshotId! }, signal);
      if (!source.exists) {
        throw jobFailure("PLATFORM_NOT_FOUND", `The EBS snapshot ${p.snapshotId} does not exist in ${clients.region} (field snapshotId); name a completed snapshot, e.g. an UploadJob's snapshotId.`);
      }
      if (source.state === "error") throw jobFailure("PLATFORM_REQUEST_FAILED", `The EBS snapshot ${p.snapshotId} is in state error (field snapshotId); upload the disk again.`);
      const existing = await findOwnImage(clients, p.imageName, signal);
      // One left by an earlier attempt of this same job (the engine restarted) is made again.
      if (existing?.tags["imageport:jobId"] === jobId) await removeResource(clients, { kind: "image", id: existing.id }, signal);
      else if (existing) throw jobFailure("OUTPUT_EXISTS", `An AMI named '${p.imageName}' already exists in ${clients.region} (${existing.id}). Choose another imageName, or deregister that AMI.`);
    });
    await ctx.step("register", async (progress) => {
      await waitForSnapshot(clients, p.snapshotId!, signal, (f) => progress(f / 2));
      amiId = await registerImage(clients, { name: p.imageName, description: `imageport ${p.imageName}`, snapshotId: p.snapshotId!, tags: { ...p.tags, "imageport:jobId": jobId } }, signal);
      await waitForImage(clients, amiId, signal);
    });
    const artifacts: CreateImageArtifacts = {
      platform: "aws",
      region: clients.region,
      imageId: amiId!,
      imageName: p.imageName,
      sourceId: p.snapshotId!,
      cloudResources: [{ kind: "image", id: amiId!, region: clients.region }],
    };
    ctx.setArtifacts({ ...artifacts });
    completed = true;
  } finally {
    if (!completed && amiId) await removeAwsImage(clients, amiId, ctx);
    clients.destroy();
  }
}

async function removeAwsImage(clients: AwsClients, amiId: string, ctx: RunContext): Promise<void> {
  try {
    await removeResource(clients, { kind: "image", id: amiId }, AbortSignal.timeout(30_000));
  } catch (error) {
    ctx.warn("CLOUD_CLEANUP_FAILED", `The AMI ${amiId} this job registered in ${clients.region} could not be deregistered (${(error as Error).message}); deregister it in AWS.`);
  }
}

async function runAzure(p: CreateImageParams, ctx: RunContext): Promise<void> {
  const { signal, jobId } = ctx;
  const disk = parseDiskId(p.diskId!)!;
  const id = snapshotId(disk, p.imageName);
  const arm = openArmClient(ctx.credential(p.platformCredentialId!));
  let created = false;
  let completed = false;
  try {
    const location = await ctx.step("validate", async () => {
      const source = await getDisk(arm, p.diskId!, signal);
      if (!source.exists) {
        throw jobFailure("PLATFORM_NOT_FOUND", `The managed disk ${p.diskId} does not exist (field diskId); name an existing disk, e.g. an UploadJob's diskId.`);
      }
      if (source.diskState === "ReadyToUpload" || source.diskState === "ActiveUpload") {
        throw jobFailure("PLATFORM_REQUEST_FAILED", `The managed disk ${p.diskId} is in state ${source.diskState}: its upload has not ended, so it has no content to snapshot yet.`);
      }
      await refuseExistingSnapshot(arm, id, jobId, signal);
      return source.location!;
    });
    await ctx.step("register", async (progress) => {
      await createSnapshot(arm, id, { location, diskId: p.diskId!, tags: { ...p.tags, [AZURE_JOB_TAG]: jobId } }, signal);
      created = true;
      progress(1);
    });
    const artifacts: CreateImageArtifacts = {
      platform: "azure",
      region: location,
      imageId: id,
      imageName: p.imageName,
      sourceId: p.diskId!,
      subscriptionId: disk.subscriptionId,
      resourceGroup: disk.resourceGroup,
      cloudResources: [{ kind: "snapshot", id, region: location }],
    };
    ctx.setArtifacts({ ...artifacts });
    completed = true;
  } finally {
    if (!completed && created) {
      await removeAzureResource(arm, { kind: "snapshot", id }, AbortSignal.timeout(60_000)).catch((error) =>
        ctx.warn("CLOUD_CLEANUP_FAILED", `The snapshot ${id} this job created could not be removed (${(error as Error).message}); delete it in Azure.`),
      );
    }
  }
}

/** A snapshot of that name must not exist, unless an earlier attempt of this same job made it. */
async function refuseExistingSnapshot(arm: ArmClient, id: string, jobId: string, signal: AbortSignal): Promise<void> {
  const found = await describeAzureResource(arm, { kind: "snapshot", id }, signal);
  if (!found.exists) return;
  if (found.tags?.[AZURE_JOB_TAG] === jobId) {
    await removeAzureResource(arm, { kind: "snapshot", id }, signal);
    return;
  }
  throw jobFailure("OUTPUT_EXISTS", `The snapshot ${id} already exists. Choose another imageName, or delete that snapshot in Azure.`);
}
