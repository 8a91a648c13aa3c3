import { FieldError } from "../../errors";
import { JobDefinition, SubmitContext } from "../definition";
import { commonProperties, inputProperties, objectSchema, outputProperties } from "../schemas";
import { checkInputFormat, checkLocalInputExists, checkPlatformCredential, checkStorageFields, inputFormat, TransferParams } from "../storage-fields";
import { TRANSFER_STEPS, TransferResult, transferDisk, transferFromVsphere, VSPHERE_TRANSFER_STEPS } from "../transfer";
import { checkDiskInput, probeVsphereSource, readsFromVsphere, VSPHERE_SOURCE_PROPERTIES, VsphereSourceFields } from "../vsphere-source";

export interface ExportParams extends TransferParams, VsphereSourceFields {
  outputImageFormat?: "vhd" | "vhdx";
  outputDiskType?: "dynamic" | "fixed";
  overwriteOutput?: boolean;
  hashDisk?: boolean;
}

/** A disk exported to VHD or VHDX on a share (IPS $export): from a file on a share, or a VM's disk on vCenter. */
export const exportJob: JobDefinition<ExportParams> = {
  type: "export",
  summary: "Export a disk (a file on a share, or a VM's disk on vCenter) to VHD or VHDX on a share",
  body: objectSchema(
    {
      ...commonProperties,
      ...inputProperties,
      ...VSPHERE_SOURCE_PROPERTIES,
      ...outputProperties,
      outputImageFormat: { type: "string", enum: ["vhd", "vhdx"], description: "Default vhdx." },
      outputDiskType: { type: "string", enum: ["dynamic", "fixed"], description: "Default dynamic; fixed VHDs are rounded up to a whole MiB." },
      hashDisk: {
        type: "boolean",
        description:
          "Also compute the full-content sha256 of the disk, a pass over every byte, zeros included (on a hashing thread). Every output is verified by its block digest, whose cost follows the data, either way.",
      },
    },
    ["outputStorageLocation", "outputImageFilename"],
  ),
  validate: checkExportFields,
  dryRunProbe: probeVsphereSource,
  steps: (p) => (readsFromVsphere(p) ? VSPHERE_TRANSFER_STEPS : TRANSFER_STEPS),
  async run(p, ctx) {
    const format = p.outputImageFormat ?? "vhdx";
    const output = { location: p.outputStorageLocation, fileName: p.outputImageFilename, format, subformat: p.outputDiskType ?? "dynamic", overwrite: p.overwriteOutput ?? false };
    let result: TransferResult;
    let source: Record<string, unknown> = {};
    if (readsFromVsphere(p)) {
      const fromVsphere = await transferFromVsphere({ input: p, output, sha256: p.hashDisk ?? false }, ctx);
      result = fromVsphere;
      source = { sourceDisk: fromVsphere.sourceName, sourceBytesRead: fromVsphere.bytesRead };
    } else {
      const input = { location: p.inputStorageLocation, fileName: p.inputImageFilename, format: inputFormat(p.inputImageFilename, p.inputImageFormat)! };
      result = await transferDisk({ input, output, sha256: p.hashDisk ?? false }, ctx);
    }
    ctx.setArtifacts({
      outputUri: result.outputUri,
      outputImageFilename: p.outputImageFilename,
      format,
      diskType: p.outputDiskType ?? "dynamic",
      sizeBytes: result.sizeBytes,
      virtualSizeBytes: result.virtualSizeBytes,
      sourceVirtualSizeBytes: result.sourceVirtualSizeBytes,
      ...(result.sha256 ? { sha256: result.sha256 } : {}),
      blockDigest: result.blockDigest,
      ...source,
    });
  },
};

async function checkExportFields(p: ExportParams, ctx: SubmitContext): Promise<FieldError[]> {
  return [
    ...(await checkDiskInput(p as ExportParams & Record<string, unknown>, ctx, async () => [
      ...(await checkStorageFields("input", p.inputStorageLocation, p.inputImageFilename, ctx)),
      ...checkInputFormat(p.inputImageFilename, p.inputImageFormat),
      ...checkLocalInputExists(p.inputStorageLocation, p.inputImageFilename, ctx),
    ])),
    ...(await checkStorageFields("output", p.outputStorageLocation, p.outputImageFilename, ctx)),
    ...(await checkPlatformCredential(p.platformCredentialId, ctx)),
  ];
}
