import { DiskFormat } from "../../disk";
import { JobDefinition } from "../definition";
import { guestStep, previewGuest } from "../guest-step";
import { commonProperties, DISK_FORMAT_NAMES, inputProperties, objectSchema, outputProperties, prepareOptionProperties } from "../schemas";
import { checkTransferFields, inputFormat, TransferParams } from "../storage-fields";
import { PREPARE_TRANSFER_STEPS, TRANSFER_STEPS, transferDisk } from "../transfer";
import { checkPrepareOptions, PrepareOptions, unsupportedPrepareOptions } from "./prepare-options";

const MIB = 1024 * 1024;

export interface PrepareParams extends PrepareOptions, TransferParams {
  provisioningType: "Mcs" | "Pvs";
  outputImageFormat?: DiskFormat;
  outputDiskType?: "dynamic" | "fixed";
  overwriteOutput?: boolean;
}

/**
 * A disk prepared for MCS or PVS: the guest prepared offline (engine/prepare: facts, VDA
 * controllers, first-boot steps, the change record), in the target's format and geometry
 * (virtual size a whole number of MiB, grown to outputSizeMb when asked), verified against
 * the prepared content.
 */
export const prepareJob: JobDefinition<PrepareParams> = {
  type: "prepare",
  summary: "Prepare a disk for MCS or PVS provisioning (the guest, offline; format and geometry)",
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
  validate: async (p, ctx) => [...(await checkTransferFields(p, ctx)), ...(await checkPrepareOptions(p, ctx))],
  unsupported: unsupportedPrepareOptions,
  dryRunPreview: previewGuest,
  steps: (p) => (p.skipGuestPreparation ? TRANSFER_STEPS : PREPARE_TRANSFER_STEPS),
  async run(p, ctx) {
    const format = p.outputImageFormat ?? "vhdx";
    const guest = guestStep(p, ctx);
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
        prepare: guest?.prepare,
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
      ...guest?.artifacts(),
    });
  },
};
