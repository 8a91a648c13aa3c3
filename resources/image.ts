import * as pulumi from "@pulumi/pulumi";
import { resourceInputs } from "./inputs";
import { JobTimeouts, JobTimeoutsArgs } from "./types";

export type ImagePlatform = "aws" | "azure";

export interface ImageArgs {
  /** Where the image is made: `aws` (an AMI) or `azure` (a managed snapshot). */
  platform: pulumi.Input<ImagePlatform>;
  /** The cloud credential (`Aws` for `aws`, `Azure` for `azure`). */
  platformCredentialId: pulumi.Input<string>;
  /** The AMI's name (unique in the account and region) or the Azure snapshot's. */
  imageName: pulumi.Input<string>;
  /** AWS: the region of the snapshot and the AMI; required for `aws`. */
  region?: pulumi.Input<string>;
  /** AWS: the EBS snapshot the AMI boots from, e.g. `uploadJob.snapshotId`; required for `aws`. */
  snapshotId?: pulumi.Input<string>;
  /** Azure: the managed disk to copy, e.g. `uploadJob.diskId` (typed to take that output as is); required for `azure`. */
  diskId?: pulumi.Input<string | undefined>;
  /** The Citrix hosting unit of the catalog that uses the image; sets `masterImagePath`. */
  hostingUnit?: pulumi.Input<string>;
  /** The resource location whose connectors run the job (default `local`). */
  resourceLocationId?: pulumi.Input<string>;
  /** Labels for the job and cloud tags for the image. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** How long to wait for the job. */
  timeouts?: pulumi.Input<JobTimeoutsArgs>;
}

const INPUTS = ["platform", "platformCredentialId", "imageName", "region", "snapshotId", "diskId", "hostingUnit", "resourceLocationId", "tags", "timeouts"] as const;
const OUTPUTS = ["jobId", "status", "imageId", "sourceId", "masterImagePath", "warnings"] as const;

/**
 * The bootable image an MCS catalog consumes, made from what an UploadJob left in the cloud: an
 * AMI from its EBS snapshot, or a full snapshot of its Azure managed disk. It owns only the
 * image: deleting it deregisters the AMI (refused while instances run from it) or deletes the
 * snapshot.
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
  declare readonly platformCredentialId: pulumi.Output<string>;
  declare readonly imageName: pulumi.Output<string>;
  declare readonly region: pulumi.Output<string | undefined>;
  declare readonly snapshotId: pulumi.Output<string | undefined>;
  declare readonly diskId: pulumi.Output<string | undefined>;
  declare readonly hostingUnit: pulumi.Output<string | undefined>;
  declare readonly resourceLocationId: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<Record<string, string> | undefined>;
  declare readonly timeouts: pulumi.Output<JobTimeouts | undefined>;
  /** The engine job that made the image; also the resource id. */
  declare readonly jobId: pulumi.Output<string>;
  declare readonly status: pulumi.Output<string>;
  /** The AMI id on AWS, the snapshot's ARM id on Azure. */
  declare readonly imageId: pulumi.Output<string>;
  /** The snapshot id or disk ARM id the image was made from. */
  declare readonly sourceId: pulumi.Output<string>;
  /** `XDHyp:\HostingUnits\...`: the MCS master image path (set with hostingUnit). */
  declare readonly masterImagePath: pulumi.Output<string | undefined>;
  declare readonly warnings: pulumi.Output<string[] | undefined>;

  constructor(name: string, args: ImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(Image.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
