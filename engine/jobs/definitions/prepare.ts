import { DiskFormat } from "../../disk";
import { JobDefinition } from "../definition";
import { commonProperties, DISK_FORMAT_NAMES, inputProperties, objectSchema, outputProperties, prepareOptionProperties } from "../schemas";
import { checkTransferFields, inputFormat, TransferParams } from "../storage-fields";
import { TRANSFER_STEPS, transferDisk } from "../transfer";
import { MIB, PrepareOptions, unsupportedPrepareOptions } from "./prepare-options";

export interface PrepareParams extends PrepareOptions, TransferParams {
  provisioningType: "Mcs" | "Pvs";
  outputImageFormat?: DiskFormat;
  outputDiskType?: "dynamic" | "fixed";
  overwriteOutput?: boolean;
}

/**
 * A disk prepared for MCS or PVS: the target's format and geometry (virtual size a whole
 * number of MiB, grown to outputSizeMb when asked), verified against the source.
 */
export const prepareJob: JobDefinition<PrepareParams> = {
  type: "prepare",
  summary: "Prepare a disk for MCS or PVS provisioning (format and geometry)",
  body: objectSchema(
    {
      ...commonProperties,
      ...inputProperties,
      ...outputProperties,
      ...prepareOptionProperties,
      outputImageFormat: { type: "string", enum: DISK_FORMAT_NAMES, description: "Default vhdx." },
      outputDiskType: { type: "string", enum: ["dynamic", "fixed"], description: "For vhd and vhdx; default dynamic." },
    },
    ["provisioningType", "inputStorageLocation", "inputImageFilename", "outputStorageLocation", "outputImageFilename"],
  ),
  validate: checkTransferFields,
  unsupported: unsupportedPrepareOptions,
  steps: () => TRANSFER_STEPS,
  async run(p, ctx) {
    const format = p.outputImageFormat ?? "vhdx";
    const result = await transferDisk(
      {
        input: { location: p.inputStorageLocation, fileName: p.inputImageFilename, format: inputFormat(p.inputImageFilename, p.inputImageFormat)! },
        output: {
          location: p.outputStorageLocation,
          fileName: p.outputImageFilename,
          format,
          subformat: format === "vhd" || format === "vhdx" ? (p.outputDiskType ?? "dynamic") : undefined,
          overwrite: p.overwriteOutput ?? false,
        },
        minSize: p.outputSizeMb !== undefined ? p.outputSizeMb * MIB : undefined,
        alignToMiB: true,
      },
      ctx,
    );
    ctx.setArtifacts({
      outputUri: result.outputUri,
      outputImageFilename: p.outputImageFilename,
      provisioningType: p.provisioningType,
      format,
      sizeBytes: result.sizeBytes,
      virtualSizeBytes: result.virtualSizeBytes,
      sourceVirtualSizeBytes: result.sourceVirtualSizeBytes,
      blockDigest: result.blockDigest,
    });
  },
};
