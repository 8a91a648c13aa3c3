import { JobDefinition } from "../definition";
import { commonProperties, inputProperties, objectSchema, outputProperties } from "../schemas";
import { checkTransferFields, inputFormat, TransferParams } from "../storage-fields";
import { TRANSFER_STEPS, transferDisk } from "../transfer";

export interface ExportParams extends TransferParams {
  outputImageFormat?: "vhd" | "vhdx";
  outputDiskType?: "dynamic" | "fixed";
  overwriteOutput?: boolean;
  hashDisk?: boolean;
}

/** A disk exported to VHD or VHDX on a share (IPS $export). */
export const exportJob: JobDefinition<ExportParams> = {
  type: "export",
  summary: "Export a disk to VHD or VHDX on a share",
  body: objectSchema(
    {
      ...commonProperties,
      ...inputProperties,
      ...outputProperties,
      outputImageFormat: { type: "string", enum: ["vhd", "vhdx"], description: "Default vhdx." },
      outputDiskType: { type: "string", enum: ["dynamic", "fixed"], description: "Default dynamic; fixed VHDs are rounded up to a whole MiB." },
      hashDisk: { type: "boolean", description: "Accepted for IPS compatibility: the engine always hashes, because it verifies every output." },
    },
    ["inputStorageLocation", "inputImageFilename", "outputStorageLocation", "outputImageFilename"],
  ),
  validate: checkTransferFields,
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
          subformat: p.outputDiskType ?? "dynamic",
          overwrite: p.overwriteOutput ?? false,
        },
      },
      ctx,
    );
    ctx.setArtifacts({
      outputUri: result.outputUri,
      outputImageFilename: p.outputImageFilename,
      format,
      diskType: p.outputDiskType ?? "dynamic",
      sizeBytes: result.sizeBytes,
      virtualSizeBytes: result.virtualSizeBytes,
      sourceVirtualSizeBytes: result.sourceVirtualSizeBytes,
      sha256: result.sha256,
    });
  },
};
