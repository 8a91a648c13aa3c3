import * as pulumi from "@pulumi/pulumi";
import { TRANSFER_INPUTS, TRANSFER_OUTPUTS, TransferJobResource } from "./job-outputs";
import { DiskFormat, DiskType, GUEST_PREPARATION_INPUTS, GUEST_PREPARATION_OUTPUTS, GuestFacts, GuestPreparationArgs, ProvisioningType, StorageLocation, TransferJobArgs, XdReconfigureParameter } from "./types";
import { resourceInputs } from "./inputs";

export interface PrepareJobArgs extends TransferJobArgs, GuestPreparationArgs {
  /** What the disk is prepared for. */
  provisioningType: pulumi.Input<ProvisioningType>;
  /** The output format (default `vhdx`). */
  outputImageFormat?: pulumi.Input<DiskFormat>;
  /** For vhd and vhdx: `dynamic` (default) or `fixed`. */
  outputDiskType?: pulumi.Input<DiskType>;
  /** Grow the disk to this virtual size in MiB (never shrinks it). */
  outputSizeMb?: pulumi.Input<number>;
}

const INPUTS = [...TRANSFER_INPUTS, "provisioningType", ...GUEST_PREPARATION_INPUTS, "outputImageFormat", "outputDiskType", "outputSizeMb"] as const;
const OUTPUTS = [...TRANSFER_OUTPUTS, ...GUEST_PREPARATION_OUTPUTS, "outputUri", "format"] as const;

/** A disk prepared for MCS or PVS provisioning (IPS `$prepare`): the guest prepared offline, every change recorded, verified. */
export class PrepareJob extends TransferJobResource {
  static readonly __pulumiType = "imageport:index:PrepareJob";

  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): PrepareJob {
    return new PrepareJob(name, undefined as unknown as PrepareJobArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is PrepareJob {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === PrepareJob.__pulumiType;
  }

  declare readonly provisioningType: pulumi.Output<ProvisioningType>;
  declare readonly xdReconfigure: pulumi.Output<XdReconfigureParameter[] | undefined>;
  declare readonly domainUnjoin: pulumi.Output<boolean | undefined>;
  declare readonly installMisa: pulumi.Output<boolean | undefined>;
  declare readonly installMcsio: pulumi.Output<boolean | undefined>;
  declare readonly installPvs: pulumi.Output<string | undefined>;
  declare readonly installerStorageLocation: pulumi.Output<StorageLocation | undefined>;
  declare readonly misaInstaller: pulumi.Output<string | undefined>;
  declare readonly mcsioInstaller: pulumi.Output<string | undefined>;
  declare readonly pvsInstaller: pulumi.Output<string | undefined>;
  declare readonly skipGuestPreparation: pulumi.Output<boolean | undefined>;
  /** What the preparation found in the guest. */
  declare readonly guest: pulumi.Output<GuestFacts | undefined>;
  /** Every file, directory and registry value written or removed, with old and new values. */
  declare readonly changeRecord: pulumi.Output<Record<string, unknown>[] | undefined>;
  /** Where the change record is in the guest. */
  declare readonly guestRecordPath: pulumi.Output<string | undefined>;
  declare readonly outputImageFormat: pulumi.Output<DiskFormat | undefined>;
  declare readonly outputDiskType: pulumi.Output<DiskType | undefined>;
  declare readonly outputSizeMb: pulumi.Output<number | undefined>;
  /** Where the prepared disk is. */
  declare readonly outputUri: pulumi.Output<string>;
  declare readonly format: pulumi.Output<string>;

  constructor(name: string, args: PrepareJobArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(PrepareJob.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
