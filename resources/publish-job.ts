import * as pulumi from "@pulumi/pulumi";
import { TRANSFER_INPUTS, TRANSFER_OUTPUTS, TransferJobResource } from "./job-outputs";
import { GUEST_PREPARATION_INPUTS, GUEST_PREPARATION_OUTPUTS, GuestFacts, GuestPreparationArgs, ProvisioningType, StorageLocation, TransferJobArgs, XdReconfigureParameter } from "./types";
import { resourceInputs } from "./inputs";

export interface PublishJobArgs extends TransferJobArgs, GuestPreparationArgs {
  /** Prepare in the same job (IPS prepareAndPublish); unset to publish a disk already prepared. */
  provisioningType?: pulumi.Input<ProvisioningType>;
  /** The vDisk's description, written to its properties file. */
  vdiskDescription?: pulumi.Input<string>;
}

const INPUTS = [...TRANSFER_INPUTS, "provisioningType", ...GUEST_PREPARATION_INPUTS, "vdiskDescription"] as const;
const OUTPUTS = [...TRANSFER_OUTPUTS, ...GUEST_PREPARATION_OUTPUTS, "vdiskUri", "propertiesUri", "format"] as const;

/** A disk published as a PVS vDisk (a `.vhdx` plus its properties file) in a store (IPS `$publish`). */
export class PublishJob extends TransferJobResource {
  static readonly __pulumiType = "imageport:index:PublishJob";

  static get(name: string, id: pulumi.Input<pulumi.ID>, opts?: pulumi.CustomResourceOptions): PublishJob {
    return new PublishJob(name, undefined as unknown as PublishJobArgs, { ...opts, id });
  }

  static override isInstance(obj: unknown): obj is PublishJob {
    return (obj as { __pulumiType?: string } | undefined)?.__pulumiType === PublishJob.__pulumiType;
  }

  declare readonly provisioningType: pulumi.Output<ProvisioningType | undefined>;
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
  declare readonly vdiskDescription: pulumi.Output<string | undefined>;
  /** Where the vDisk is in the store. */
  declare readonly vdiskUri: pulumi.Output<string>;
  /** The properties file beside it; register the vDisk in PVS to use it. */
  declare readonly propertiesUri: pulumi.Output<string>;
  declare readonly format: pulumi.Output<string>;

  constructor(name: string, args: PublishJobArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(PublishJob.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
