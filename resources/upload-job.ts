import * as pulumi from "@pulumi/pulumi";
import { resourceInputs } from "./inputs";
import { DiskFormat, JobTimeouts, JobTimeoutsArgs, StorageLocation, StorageLocationArgs, VSPHERE_SOURCE_INPUTS, VsphereSourceArgs } from "./types";

export type CloudPlatform = "aws" | "azure" | "gcp";

export interface UploadJobArgs extends VsphereSourceArgs {
  /** Where the disk goes: `aws`, `azure` or `gcp`. */
  platform: pulumi.Input<CloudPlatform>;
  /** Where the disk is (or read a VM's disk from vCenter with `vsphereHost`). */
  inputStorageLocation?: pulumi.Input<StorageLocationArgs>;
  /** The disk's file name (VHD or VHDX usually; any of the five formats works). */
  inputImageFilename?: pulumi.Input<string>;
  /** The disk's format; default: from the file name's extension. */
  inputImageFormat?: pulumi.Input<DiskFormat>;
  /** The cloud credential (an `Aws` credential for `aws`). */
  platformCredentialId: pulumi.Input<string>;
  /** The cloud region, e.g. `us-east-1` (required for `aws`). */
  region?: pulumi.Input<string>;
  /** The snapshot's description and `Name` tag. */
  targetSnapshotName?: pulumi.Input<string>;
  /** Register an AMI from the snapshot (default true). */
  createAmi?: pulumi.Input<boolean>;
  /** The AMI's name. */
  amiName?: pulumi.Input<string>;
  /** Also compute the full-content `sha256` (a pass over every byte, zeros included). */
  hashDisk?: pulumi.Input<boolean>;
  /** Azure: the subscription (a GUID); required for `azure`. */
  subscriptionId?: pulumi.Input<string>;
  /** Azure: the existing resource group for the managed disk (and image); required for `azure`. */
  resourceGroup?: pulumi.Input<string>;
  /** Azure: the managed disk's name (default `imageport-<jobId>`). */
  targetDiskName?: pulumi.Input<string>;
  /** Azure: also create a managed image from the disk (default false). */
  createImage?: pulumi.Input<boolean>;
  /** Azure: the managed image's name (default: targetDiskName); only with createImage. */
  imageName?: pulumi.Input<string>;
  /** Azure: the disk's OS type (default `Windows`). */
  osType?: pulumi.Input<"Windows" | "Linux">;
  /** Azure: `V1` (default) or `V2`. */
  hyperVGeneration?: pulumi.Input<"V1" | "V2">;
  /** GCP: an existing GCS bucket for the disk archive; required for `gcp`. */
  bucket?: pulumi.Input<string>;
  /** GCP: the image's project (default: the key's project). */
  project?: pulumi.Input<string>;
  /** GCP: the Compute Engine image's name. */
  targetImageName?: pulumi.Input<string>;
  /** The resource location whose connectors run the job (default `local`). */
  resourceLocationId?: pulumi.Input<string>;
  /** Labels for the job, the snapshot and the AMI. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** How long to wait for the job. */
  timeouts?: pulumi.Input<JobTimeoutsArgs>;
}

const INPUTS = [
  "platform",
  "inputStorageLocation",
  "inputImageFilename",
  "inputImageFormat",
  ...VSPHERE_SOURCE_INPUTS,
  "platformCredentialId",
  "region",
  "targetSnapshotName",
  "createAmi",
  "amiName",
  "hashDisk",
  "subscriptionId",
  "resourceGroup",
  "targetDiskName",
  "createImage",
  "imageName",
  "osType",
  "hyperVGeneration",
  "bucket",
  "project",
  "targetImageName",
  "resourceLocationId",
  "tags",
  "timeouts",
] as const;
const OUTPUTS = ["jobId", "status", "snapshotId", "amiId", "diskId", "imageId", "targetId", "volumeSizeGiB", "blocksWritten", "sizeBytes", "virtualSizeBytes", "blockDigest", "sha256", "sourceDisk", "sourceBytesRead", "warnings"] as const;

/**
 * A disk uploaded to a cloud (IPS `$upload`): on AWS an EBS snapshot with only the blocks that
 * hold data, then an AMI. Deleting it deregisters the AMI and deletes the snapshot.
 */
export class UploadJob extends pulumi.CustomResource {
  static readonly __pulumiType = "imageport:index:UploadJob";

  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): UploadJob {
    return new UploadJob(name, undefined as unknown as UploadJobArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is UploadJob {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === UploadJob.__pulumiType;
  }

  declare readonly platform: pulumi.Output<CloudPlatform>;
  declare readonly inputStorageLocation: pulumi.Output<StorageLocation | undefined>;
  declare readonly inputImageFilename: pulumi.Output<string | undefined>;
  declare readonly inputImageFormat: pulumi.Output<DiskFormat | undefined>;
  declare readonly vsphereHost: pulumi.Output<string | undefined>;
  declare readonly vspherePort: pulumi.Output<number | undefined>;
  declare readonly vsphereCredentialId: pulumi.Output<string | undefined>;
  declare readonly vsphereSslCaCertificate: pulumi.Output<string | undefined>;
  declare readonly vsphereSslFingerprint: pulumi.Output<string | undefined>;
  declare readonly vsphereSslNoCheckHostname: pulumi.Output<boolean | undefined>;
  declare readonly sourceVmName: pulumi.Output<string | undefined>;
  declare readonly sourceVmPath: pulumi.Output<string | undefined>;
  declare readonly sourceVmId: pulumi.Output<string | undefined>;
  declare readonly sourceDiskName: pulumi.Output<string | undefined>;
  declare readonly platformCredentialId: pulumi.Output<string>;
  declare readonly region: pulumi.Output<string | undefined>;
  declare readonly targetSnapshotName: pulumi.Output<string | undefined>;
  declare readonly createAmi: pulumi.Output<boolean | undefined>;
  declare readonly amiName: pulumi.Output<string | undefined>;
  declare readonly hashDisk: pulumi.Output<boolean | undefined>;
  declare readonly subscriptionId: pulumi.Output<string | undefined>;
  declare readonly resourceGroup: pulumi.Output<string | undefined>;
  declare readonly targetDiskName: pulumi.Output<string | undefined>;
  declare readonly createImage: pulumi.Output<boolean | undefined>;
  declare readonly imageName: pulumi.Output<string | undefined>;
  declare readonly osType: pulumi.Output<"Windows" | "Linux" | undefined>;
  declare readonly hyperVGeneration: pulumi.Output<"V1" | "V2" | undefined>;
  declare readonly bucket: pulumi.Output<string | undefined>;
  declare readonly project: pulumi.Output<string | undefined>;
  declare readonly targetImageName: pulumi.Output<string | undefined>;
  declare readonly resourceLocationId: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<Record<string, string> | undefined>;
  declare readonly timeouts: pulumi.Output<JobTimeouts | undefined>;
  /** The engine job that uploaded the disk; also the resource id. */
  declare readonly jobId: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  /** The EBS snapshot holding the disk. */
  declare readonly snapshotId: pulumi.Output<string>;
  /** The AMI registered from the snapshot (unless createAmi is false). */
  declare readonly amiId: pulumi.Output<string | undefined>;
  /** Azure: the managed disk's ARM id. */
  declare readonly diskId: pulumi.Output<string | undefined>;
  /** Azure: the managed image's ARM id (with createImage); GCP: the image's id. */
  declare readonly imageId: pulumi.Output<string | undefined>;
  /** What the upload produced for MCS: the AMI (else the snapshot) on AWS, the image (else the disk) on Azure, the image on GCP. */
  declare readonly targetId: pulumi.Output<string>;
  declare readonly volumeSizeGiB: pulumi.Output<number>;
  /** 512 KiB blocks sent: only blocks holding data. */
  declare readonly blocksWritten: pulumi.Output<number>;
  declare readonly sizeBytes: pulumi.Output<number>;
  declare readonly virtualSizeBytes: pulumi.Output<number>;
  /** Block digest of the content sent (docs/engine.md says how to recompute it). */
  declare readonly blockDigest: pulumi.Output<string>;
  /** SHA-256 of the content (raw bytes), with `hashDisk: true`. */
  declare readonly sha256: pulumi.Output<string | undefined>;
  /** The vSphere disk read (vSphere inputs). */
  declare readonly sourceDisk: pulumi.Output<string | undefined>;
  /** Bytes read from the datastore (vSphere inputs). */
  declare readonly sourceBytesRead: pulumi.Output<number | undefined>;
  declare readonly warnings: pulumi.Output<string[] | undefined>;

  constructor(name: string, args: UploadJobArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(UploadJob.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
