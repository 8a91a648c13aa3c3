import * as pulumi from "@pulumi/pulumi";
import { TRANSFER_INPUTS, TRANSFER_OUTPUTS, TransferJobResource } from "./job-outputs";
import { DiskType, ExportFormat, StorageLocationArgs, TransferJobArgs, VSPHERE_SOURCE_INPUTS, VsphereSourceArgs } from "./types";
import { resourceInputs } from "./inputs";

export interface ExportJobArgs extends Omit<TransferJobArgs, "inputStorageLocation" | "inputImageFilename">, VsphereSourceArgs {
  /** Where the source disk is (or read a VM's disk from vCenter with `vsphereHost`). */
  inputStorageLocation?: pulumi.Input<StorageLocationArgs>;
  /** The source disk's file name in `inputStorageLocation`. */
  inputImageFilename?: pulumi.Input<string>;
  /** Also compute the full-content `sha256` (a pass over every byte, zeros included). */
  hashDisk?: pulumi.Input<boolean>;
  /** `vhd` or `vhdx` (default `vhdx`). */
  outputImageFormat?: pulumi.Input<ExportFormat>;
  /** `dynamic` (default) or `fixed`. */
  outputDiskType?: pulumi.Input<DiskType>;
}

const INPUTS = [...TRANSFER_INPUTS, ...VSPHERE_SOURCE_INPUTS, "hashDisk", "outputImageFormat", "outputDiskType"] as const;
const OUTPUTS = [...TRANSFER_OUTPUTS, "sha256", "outputUri", "format", "diskType", "sourceDisk", "sourceBytesRead"] as const;

/**
 * A disk exported to VHD or VHDX (IPS `$export`). Creating it runs the job and waits for a
 * verified output; deleting it removes the file (the `retainOnDelete` option keeps it).
 */
export class ExportJob extends TransferJobResource {
  static readonly __pulumiType = "imageport:index:ExportJob";

  /** An existing export by its job id (`ExportJob.get`, `pulumi import`). */
  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): ExportJob {
    return new ExportJob(name, undefined as unknown as ExportJobArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is ExportJob {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === ExportJob.__pulumiType;
  }

  declare readonly outputImageFormat: pulumi.Output<ExportFormat | undefined>;
  declare readonly outputDiskType: pulumi.Output<DiskType | undefined>;
  /** Where the exported disk is: the output location plus the file name. */
  declare readonly outputUri: pulumi.Output<string>;
  declare readonly format: pulumi.Output<string>;
  declare readonly diskType: pulumi.Output<string>;
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
  declare readonly hashDisk: pulumi.Output<boolean | undefined>;
  /** SHA-256 of the disk's content (raw bytes), with `hashDisk: true`. */
  declare readonly sha256: pulumi.Output<string | undefined>;
  /** The vSphere disk read. */
  declare readonly sourceDisk: pulumi.Output<string | undefined>;
  /** Bytes read from the datastore. */
  declare readonly sourceBytesRead: pulumi.Output<number | undefined>;

  constructor(name: string, args: ExportJobArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(ExportJob.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
