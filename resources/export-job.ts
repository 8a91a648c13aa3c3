import * as pulumi from "@pulumi/pulumi";
import { TRANSFER_INPUTS, TRANSFER_OUTPUTS, TransferJobResource } from "./job-outputs";
import { DiskType, ExportFormat, TransferJobArgs } from "./types";
import { resourceInputs } from "./inputs";

export interface ExportJobArgs extends TransferJobArgs {
  /** `vhd` or `vhdx` (default `vhdx`). */
  outputImageFormat?: pulumi.Input<ExportFormat>;
  /** `dynamic` (default) or `fixed`. */
  outputDiskType?: pulumi.Input<DiskType>;
}

const INPUTS = [...TRANSFER_INPUTS, "outputImageFormat", "outputDiskType"] as const;
const OUTPUTS = [...TRANSFER_OUTPUTS, "outputUri", "format", "diskType"] as const;

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

  constructor(name: string, args: ExportJobArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(ExportJob.__pulumiType, name, resourceInputs(args, opts, INPUTS, OUTPUTS), opts);
  }
}
