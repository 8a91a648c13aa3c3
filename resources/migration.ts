import * as pulumi from "@pulumi/pulumi";
import { ExportJob } from "./export-job";
import { PrepareJob } from "./prepare-job";
import { PublishJob } from "./publish-job";
import { Image } from "./image";
import { GuestFacts, GuestPreparationArgs, JobTimeoutsArgs, StorageLocation, StorageLocationArgs, VsphereSourceArgs } from "./types";
import { UploadJob } from "./upload-job";

export const MIGRATION_WORKFLOWS = ["McsToMcs", "PvsToMcs", "PvsToPvs", "McsToPvs"] as const;
export type MigrationWorkflow = (typeof MIGRATION_WORKFLOWS)[number];

export interface MigrationArgs {
  /** Which workflow: where the image comes from (an MCS master disk or a PVS vDisk) and what it becomes. Decides the steps, so it must be a plain value. */
  workflow: MigrationWorkflow;
  /**
   * The source disk: an MCS master image's disk or a PVS vDisk in a directory or on a share, or
   * (McsToMcs, McsToPvs) the master VM's disk read from vCenter (`vsphere`: the ExportJob's vSphere inputs).
   */
  source: { location: pulumi.Input<StorageLocationArgs>; imageFilename: pulumi.Input<string> } | { vsphere: VsphereSourceArgs };
  /** Where intermediate disks (export, prepared disk) are written; required unless the workflow is PvsToPvs. */
  staging?: pulumi.Input<StorageLocationArgs>;
  /** The PVS target (PvsToPvs, McsToPvs): the store and the vDisk's name (`.vhdx`). */
  pvs?: { store: pulumi.Input<StorageLocationArgs>; vdiskName: pulumi.Input<string>; description?: pulumi.Input<string> };
  /** An MCS target on AWS (McsToMcs, PvsToMcs): region, the `Aws` credential id and the AMI's name (default: the migration's name). */
  aws?: { region: pulumi.Input<string>; credentialId: pulumi.Input<string>; amiName?: pulumi.Input<string> };
  /** An MCS target on Azure (McsToMcs, PvsToMcs): where the managed disk goes, the `Azure` credential id, and the names of the disk and of the snapshot MCS takes (default: the migration's name). */
  azure?: {
    region: pulumi.Input<string>;
    subscriptionId: pulumi.Input<string>;
    resourceGroup: pulumi.Input<string>;
    credentialId: pulumi.Input<string>;
    diskName?: pulumi.Input<string>;
    snapshotName?: pulumi.Input<string>;
  };
  /**
   * How the guest is prepared (the PrepareJob's or PublishJob's guest inputs): VDA controllers,
   * domain unjoin, installers; `skipGuestPreparation` for a disk without an OS.
   */
  guest?: GuestPreparationArgs;
  /** MCS targets: the Citrix hosting unit of the catalog, for `masterImagePath`. */
  hostingUnit?: pulumi.Input<string>;
  /** The resource location whose connectors run every step (default `local`). */
  resourceLocationId?: pulumi.Input<string>;
  /** How long each step may take. */
  timeouts?: pulumi.Input<JobTimeoutsArgs>;
}

/**
 * One image migration, chained from the job resources: MCS->PVS exports the master disk and
 * publishes it prepared for PVS; PVS->PVS prepares and publishes the vDisk into the target
 * store; MCS->MCS exports, prepares for MCS, uploads it and makes the Image MCS consumes (an
 * AMI on AWS, a snapshot of the managed disk on Azure); PVS->MCS prepares the vDisk for MCS,
 * uploads it and makes the Image. Preparation happens on the disk before upload (this engine
 * prepares disks, not cloud instances), so the upload carries the prepared image.
 */
export class Migration extends pulumi.ComponentResource {
  static readonly __pulumiType = "imageport:index:Migration";

  /** The steps, in order; absent ones are not part of the workflow. */
  readonly exportJob?: ExportJob;
  readonly prepareJob?: PrepareJob;
  readonly publishJob?: PublishJob;
  readonly uploadJob?: UploadJob;
  readonly image?: Image;
  /** PVS targets: the vDisk in the store. */
  readonly vdiskUri?: pulumi.Output<string>;
  /** MCS targets: what the catalog provisions from: the AMI on AWS, the snapshot (ARM id) on Azure. */
  readonly imageId?: pulumi.Output<string>;
  /** MCS targets with hostingUnit: the image's `XDHyp:\HostingUnits\...` path. */
  readonly masterImagePath?: pulumi.Output<string | undefined>;
  /** AWS: the AMI's snapshot. */
  readonly snapshotId?: pulumi.Output<string | undefined>;
  /** What the preparation found in the guest (OS, version, hostname, VDA, boot type). */
  readonly guest: pulumi.Output<GuestFacts | undefined>;
  /** Block digest of the migrated image's content, verified at each step (docs/engine.md says how to recompute it). */
  readonly blockDigest: pulumi.Output<string>;

  constructor(name: string, args: MigrationArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super(Migration.__pulumiType, name, {}, opts);
    const fail = (property: string, why: string) => new Error(`Migration ${name}: ${property} ${why}`);
    if (!MIGRATION_WORKFLOWS.includes(args.workflow)) {
      throw fail("workflow", `must be one of ${MIGRATION_WORKFLOWS.join(", ")}; got ${JSON.stringify(args.workflow)}`);
    }
    const toPvs = args.workflow.endsWith("ToPvs");
    const fromMcs = args.workflow.startsWith("Mcs");
    if (toPvs && !args.pvs) throw fail("pvs", `is required for ${args.workflow}: the store and the vDisk name`);
    if (!toPvs && !args.aws === !args.azure) throw fail("aws", `or azure (exactly one) is required for ${args.workflow}: the cloud the image goes to`);
    if (args.workflow !== "PvsToPvs" && !args.staging) throw fail("staging", `is required for ${args.workflow}: where intermediate disks are written`);
    if ("vsphere" in args.source && !fromMcs) throw fail("source.vsphere", `is an MCS master VM on vCenter; ${args.workflow} starts from a PVS vDisk, so give source.location and source.imageFilename`);

    const child = { parent: this };
    const common = { resourceLocationId: args.resourceLocationId, timeouts: args.timeouts };
    const source = args.source;
    let disk = "vsphere" in source ? undefined : source;
    if (fromMcs) {
      this.exportJob = new ExportJob(`${name}-export`, {
        ...common,
        ...("vsphere" in source ? source.vsphere : { inputStorageLocation: source.location, inputImageFilename: source.imageFilename }),
        outputStorageLocation: args.staging!,
        outputImageFilename: `${name}-export.vhdx`,
      }, child);
      disk = { location: this.exportJob.outputStorageLocation as pulumi.Output<StorageLocation>, imageFilename: this.exportJob.outputImageFilename };
    }
    if (!disk) throw fail("source", "gives no disk"); // unreachable: checked above
    if (toPvs) {
      // Preparation for PVS and publishing run as one job (IPS prepareAndPublish).
      this.publishJob = new PublishJob(`${name}-publish`, {
        ...common,
        ...args.guest,
        provisioningType: "Pvs",
        inputStorageLocation: disk.location,
        inputImageFilename: disk.imageFilename,
        outputStorageLocation: args.pvs!.store,
        outputImageFilename: args.pvs!.vdiskName,
        vdiskDescription: args.pvs!.description,
      }, child);
      this.vdiskUri = this.publishJob.vdiskUri;
      this.guest = this.publishJob.guest;
      this.blockDigest = this.publishJob.blockDigest;
    } else {
      this.prepareJob = new PrepareJob(`${name}-prepare`, {
        ...common,
        ...args.guest,
        provisioningType: "Mcs",
        inputStorageLocation: disk.location,
        inputImageFilename: disk.imageFilename,
        outputStorageLocation: args.staging!,
        outputImageFilename: `${name}-mcs.vhdx`,
      }, child);
      this.guest = this.prepareJob.guest;
      const input = { inputStorageLocation: this.prepareJob.outputStorageLocation, inputImageFilename: this.prepareJob.outputImageFilename };
      const placement = args.aws
        ? { platform: "aws" as const, region: args.aws.region, platformCredentialId: args.aws.credentialId }
        : {
            platform: "azure" as const,
            region: args.azure!.region,
            subscriptionId: args.azure!.subscriptionId,
            resourceGroup: args.azure!.resourceGroup,
            platformCredentialId: args.azure!.credentialId,
            targetDiskName: args.azure!.diskName,
          };
      // The upload leaves a snapshot (AWS) or a disk (Azure); the Image made from it is MCS's.
      this.uploadJob = new UploadJob(`${name}-upload`, { ...common, ...input, ...placement, ...(args.aws ? { createAmi: false } : {}) }, child);
      this.image = new Image(`${name}-image`, {
        ...common,
        hostingUnit: args.hostingUnit,
        ...(args.aws
          ? { platform: "aws" as const, region: args.aws.region, platformCredentialId: args.aws.credentialId, snapshotId: this.uploadJob.snapshotId, imageName: args.aws.amiName ?? name }
          : { platform: "azure" as const, platformCredentialId: args.azure!.credentialId, diskId: this.uploadJob.diskId, imageName: args.azure!.snapshotName ?? name }),
      }, child);
      this.imageId = this.image.imageId;
      this.masterImagePath = this.image.masterImagePath;
      this.snapshotId = this.uploadJob.snapshotId;
      this.blockDigest = this.uploadJob.blockDigest;
    }
    this.registerOutputs({ vdiskUri: this.vdiskUri, imageId: this.imageId, masterImagePath: this.masterImagePath, snapshotId: this.snapshotId, blockDigest: this.blockDigest, guest: this.guest });
  }
}
