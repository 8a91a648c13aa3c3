import { FieldError } from "../../errors";
import { JobDefinition, RunContext, StepPlan, SubmitContext } from "../definition";
import { commonProperties, inputProperties, objectSchema, outputProperties, prepareOptionProperties } from "../schemas";
import { checkTransferFields, inputFormat, TransferParams } from "../storage-fields";
import { guestStep, previewGuest } from "../guest-step";
import { PREPARE_TRANSFER_STEPS, TRANSFER_STEPS, transferDisk } from "../transfer";
import { checkPrepareOptions, PrepareOptions, unsupportedPrepareOptions } from "./prepare-options";

export interface PublishParams extends TransferParams {
  overwriteOutput?: boolean;
  vdiskDescription?: string;
}

export const PUBLISH_STEPS: StepPlan[] = [...TRANSFER_STEPS, { name: "properties", weight: 1 }];
const PREPARE_AND_PUBLISH_STEPS: StepPlan[] = [...PREPARE_TRANSFER_STEPS, { name: "properties", weight: 1 }];

/** The file beside a published vDisk that says what it is and where it came from. */
export function propertiesFileName(vdiskFileName: string): string {
  return vdiskFileName.replace(/\.vhdx$/i, "") + ".vdisk.json";
}

const publishProperties = {
  ...commonProperties,
  ...inputProperties,
  ...outputProperties,
  outputImageFilename: { type: "string", minLength: 1, maxLength: 255, description: "The vDisk file name; must end in .vhdx." },
  vdiskDescription: { type: "string", maxLength: 1024 },
};
const publishRequired = ["inputStorageLocation", "inputImageFilename", "outputStorageLocation", "outputImageFilename"];

async function validatePublish(p: PublishParams, ctx: SubmitContext): Promise<FieldError[]> {
  const errors = await checkTransferFields(p, ctx);
  if (!/\.vhdx$/i.test(p.outputImageFilename)) {
    errors.push({ field: "outputImageFilename", message: "must end in .vhdx: a PVS store holds vDisks as VHDX files" });
  }
  return errors;
}

/** Copies a prepared disk into a PVS store as a VHDX vDisk, with its properties file beside it (preparing it first for prepareAndPublish). */
async function publish(p: PublishParams & PrepareOptions, ctx: RunContext, provisioningType?: "Mcs" | "Pvs"): Promise<void> {
  const guest = provisioningType ? guestStep({ ...p, provisioningType }, ctx) : undefined;
  const result = await transferDisk(
    {
      input: { location: p.inputStorageLocation, fileName: p.inputImageFilename, format: inputFormat(p.inputImageFilename, p.inputImageFormat)! },
      output: { location: p.outputStorageLocation, fileName: p.outputImageFilename, format: "vhdx", subformat: "dynamic", overwrite: p.overwriteOutput ?? false },
      alignToMiB: true,
      minSize: p.outputSizeMb !== undefined ? p.outputSizeMb * 1024 * 1024 : undefined,
      prepare: guest?.prepare,
    },
    ctx,
  );
  const propertiesName = propertiesFileName(p.outputImageFilename);
  await ctx.step("properties", async () => {
    const properties = {
      vdisk: p.outputImageFilename,
      format: "vhdx",
      description: p.vdiskDescription ?? "",
      ...(provisioningType ? { provisioningType } : {}),
      sizeBytes: result.sizeBytes,
      virtualSizeBytes: result.virtualSizeBytes,
      blockDigest: result.blockDigest,
      source: { location: p.inputStorageLocation.location, fileName: p.inputImageFilename },
      jobId: ctx.jobId,
      publishedAt: new Date().toISOString(),
      publishedBy: "imageportd",
    };
    await result.output.writeSmallFile(propertiesName, JSON.stringify(properties, null, 2) + "\n", ctx.jobId, ctx.signal);
  });
  ctx.setArtifacts({
    vdiskUri: result.outputUri,
    propertiesUri: result.output.uri + encodeURIComponent(propertiesName),
    format: "vhdx",
    sizeBytes: result.sizeBytes,
    virtualSizeBytes: result.virtualSizeBytes,
    sourceVirtualSizeBytes: result.sourceVirtualSizeBytes,
    blockDigest: result.blockDigest,
    ...guest?.artifacts(),
  });
}

/** IPS $publish: a prepared disk published to a PVS store. */
export const publishJob: JobDefinition<PublishParams> = {
  type: "publish",
  summary: "Publish a prepared disk to a PVS store as a VHDX vDisk",
  body: objectSchema(publishProperties, publishRequired),
  validate: validatePublish,
  steps: () => PUBLISH_STEPS,
  run: (p, ctx) => publish(p, ctx),
};

/** IPS $prepareAndPublish: preparation and publishing in one job. */
export const prepareAndPublishJob: JobDefinition<PublishParams & PrepareOptions> = {
  type: "prepareAndPublish",
  summary: "Prepare a disk and publish it to a PVS store in one job",
  body: objectSchema({ ...publishProperties, ...prepareOptionProperties }, ["provisioningType", ...publishRequired]),
  validate: async (p, ctx) => [...(await validatePublish(p, ctx)), ...(await checkPrepareOptions(p, ctx))],
  unsupported: unsupportedPrepareOptions,
  dryRunPreview: (p, ctx) => previewGuest({ ...p, provisioningType: p.provisioningType! }, ctx),
  steps: (p) => (p.skipGuestPreparation ? PUBLISH_STEPS : PREPARE_AND_PUBLISH_STEPS),
  run: (p, ctx) => publish(p, ctx, p.provisioningType),
};
