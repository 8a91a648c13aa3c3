import * as pulumi from "@pulumi/pulumi";
import { resourceInputs } from "./inputs";
import { JobTimeouts, JobTimeoutsArgs, StorageLocation, StorageLocationArgs, VSPHERE_CONNECTION_INPUTS, VsphereConnectionArgs } from "./types";

export type ImagePlatform = "aws" | "azure" | "vsphere";

/** On `vsphere`, the connection fields (`vsphereHost`, `vsphereCredentialId`, ...) say where the VM is made; all required there but port and TLS. */
export interface ImageArgs extends VsphereConnectionArgs {
  /** Where the image is made: `aws` (an AMI), `azure` (a managed snapshot) or `vsphere` (a VM with a snapshot). */
  platform: pulumi.Input<ImagePlatform>;
  /** The cloud credential (`Aws` for `aws`, `Azure` for `azure`); required for those, refused for `vsphere` (see `vsphereCredentialId`). */
  platformCredentialId?: pulumi.Input<string>;
  /** The AMI's name (unique in the account and region), the Azure snapshot's, or the vSphere VM's (unique in the datacenter). */
  imageName: pulumi.Input<string>;
  /** AWS: the region of the snapshot and the AMI; required for `aws`. */
  region?: pulumi.Input<string>;
  /** AWS: the EBS snapshot the AMI boots from, e.g. `uploadJob.snapshotId`; required for `aws`. */
  snapshotId?: pulumi.Input<string>;
  /** Azure: the managed disk to copy, e.g. `uploadJob.diskId` (typed to take that output as is); required for `azure`. */
  diskId?: pulumi.Input<string | undefined>;
  /** vSphere: the directory of the disk file, e.g. an ExportJob's or PrepareJob's output location; required for `vsphere`. */
  inputStorageLocation?: pulumi.Input<StorageLocationArgs>;
  /** vSphere: the disk file's name in `inputStorageLocation`; required for `vsphere`. */
  inputImageFilename?: pulumi.Input<string>;
  /** vSphere: the disk file's format (`raw`, `qcow2`, `vmdk`, `vhd`, `vhdx`); default from the extension. */
  inputImageFormat?: pulumi.Input<string>;
  /** vSphere: the datacenter (name or inventory path); default the only one. */
  vsphereDatacenter?: pulumi.Input<string>;
  /** vSphere: the datastore (name) for the VM and its disk; required for `vsphere`. */
  vsphereDatastore?: pulumi.Input<string>;
  /** vSphere: the VM folder (inventory path); default the datacenter's vm folder. */
  vsphereFolder?: pulumi.Input<string>;
  /** vSphere: the resource pool, cluster or host (inventory path); default the first cluster's root pool. */
  vsphereResourcePool?: pulumi.Input<string>;
  /** vSphere: the VM's guest OS identifier (default `windows9_64Guest`). */
  guestId?: pulumi.Input<string>;
  /** vSphere: virtual CPUs, in one socket (default 2). */
  numCpus?: pulumi.Input<number>;
  /** vSphere: memory in MiB, a multiple of 4 (default 4096). */
  memoryMB?: pulumi.Input<number>;
  /** vSphere: the snapshot's name (default `imageport`). */
  snapshotName?: pulumi.Input<string>;
  /** The Citrix hosting unit of the catalog that uses the image; sets `masterImagePath`. */
  hostingUnit?: pulumi.Input<string>;
  /** The resource location whose connectors run the job (default `local`). */
  resourceLocationId?: pulumi.Input<string>;
  /** Labels for the job and cloud tags for the image. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** How long to wait for the job. */
  timeouts?: pulumi.Input<JobTimeoutsArgs>;
}

const INPUTS = [
  "platform",
  "platformCredentialId",
  "imageName",
  "region",
  "snapshotId",
  "diskId",
  "inputStorageLocation",
  "inputImageFilename",
  "inputImageFormat",
  ...VSPHERE_CONNECTION_INPUTS,
  "vsphereDatacenter",
  "vsphereDatastore",
  "vsphereFolder",
  "vsphereResourcePool",
  "guestId",
  "numCpus",
  "memoryMB",
  "snapshotName",
  "hostingUnit",
  "resourceLocationId",
  "tags",
  "timeouts",
] as const;
const OUTPUTS = ["jobId", "status", "imageId", "sourceId", "vmSnapshotId", "vmSnapshotName", "datastorePath", "masterImagePath", "warnings"] as const;

/**
 * The bootable image an MCS catalog consumes: an AMI from an UploadJob's EBS snapshot, a full
 * snapshot of its Azure managed disk, or on vSphere a new VM whose one disk is made from a disk
 * file (e.g. an ExportJob's output), with a snapshot. It owns only the image: deleting it
 * deregisters the AMI (refused while instances run from it), deletes the snapshot, or destroys
 * the VM and its disk.
 */
export class Image extends pulumi.CustomResource {
  static readonly __pulumiType = "imageport:index:Image";

  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): Image {
    return new Image(name, undefined as unknown as ImageArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is Image {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === Image.__pulumiType;
  }

  declare readonly platform: pulumi.Output<ImagePlatform>;
  declare readonly platformCredentialId: pulumi.Output<string | undefined>;
  declare readonly imageName: pulumi.Output<string>;
  declare readonly region: pulumi.Output<string | undefined>;
  declare readonly snapshotId: pulumi.Output<string | undefined>;
  declare readonly diskId: pulumi.Output<string | undefined>;
  declare readonly inputStorageLocation: pulumi.Output<StorageLocation | undefined>;
  declare readonly inputImageFilename: pulumi.Output<string | undefined>;
  declare readonly inputImageFormat: pulumi.Output<string | undefined>;
  declare readonly vsphereHost: pulumi.Output<string | undefined>;
  declare readonly vspherePort: pulumi.Output<number | undefined>;
  declare readonly vsphereCredentialId: pulumi.Output<string | undefined>;
  declare readonly vsphereSslCaCertificate: pulumi.Output<string | undefined>;
  declare readonly vsphereSslFingerprint: pulumi.Output<string | undefined>;
  declare readonly vsphereSslNoCheckHostname: pulumi.Output<boolean | undefined>;
  declare readonly vsphereDatacenter: pulumi.Output<string | undefined>;
  declare readonly vsphereDatastore: pulumi.Output<string | undefined>;
  declare readonly vsphereFolder: pulumi.Output<string | undefined>;
  declare readonly vsphereResourcePool: pulumi.Output<string | undefined>;
  declare readonly guestId: pulumi.Output<string | undefined>;
  declare readonly numCpus: pulumi.Output<number | undefined>;
  declare readonly memoryMB: pulumi.Output<number | undefined>;
  declare readonly snapshotName: pulumi.Output<string | undefined>;
  declare readonly hostingUnit: pulumi.Output<string | undefined>;
  declare readonly resourceLocationId: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<Record<string, string> | undefined>;
  declare readonly timeouts: pulumi.Output<JobTimeouts | undefined>;
  /** The engine job that made the image; also the resource id. */
  declare readonly jobId: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  /** The AMI id on AWS, the snapshot's ARM id on Azure, the VM's managed object id (`vm-42`) on vSphere. */
  declare readonly imageId: pulumi.Output<string>;
  /** The snapshot id or disk ARM id the image was made from; on vSphere the disk file's URI. */
  declare readonly sourceId: pulumi.Output<string>;
  /** vSphere: the snapshot's managed object id (`snapshot-43`). */
  declare readonly vmSnapshotId: pulumi.Output<string | undefined>;
  /** vSphere: the snapshot's name (what masterImagePath ends with). */
  declare readonly vmSnapshotName: pulumi.Output<string | undefined>;
  /** vSphere: the VM's disk as of the snapshot, `[datastore] vm/vm.vmdk`. */
  declare readonly datastorePath: pulumi.Output<string | undefined>;
  /** `XDHyp:\HostingUnits\...`: the MCS master image path (set with hostingUnit). */
  declare readonly masterImagePath: pulumi.Output<string | undefined>;
  declare readonly warnings: pulumi.Output<string[] | undefined>;

  constructor(name: string, args: ImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(Image.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
