import { JobDefinition } from "../definition";
import { commonProperties, inputProperties, objectSchema } from "../schemas";
import { checkPlatformCredential, checkStorageFields, LocationParam } from "../storage-fields";

export interface UploadParams {
  platform: "aws" | "azure" | "gcp";
  inputStorageLocation: LocationParam;
  inputImageFilename: string;
  platformCredentialId: string;
}

/**
 * IPS $upload: a VHD/VHDX on a share uploaded to a cloud disk or snapshot. The request is
 * validated like any other; then refused, because no cloud platform driver exists yet.
 */
export const uploadJob: JobDefinition<UploadParams> = {
  type: "upload",
  summary: "Upload a VHD/VHDX from a share to a cloud disk or snapshot",
  body: objectSchema(
    {
      ...commonProperties,
      ...inputProperties,
      platform: { type: "string", enum: ["aws", "azure", "gcp"] },
      targetDiskName: { type: "string", minLength: 1, maxLength: 255 },
      targetSnapshotName: { type: "string", minLength: 1, maxLength: 255 },
    },
    ["platform", "inputStorageLocation", "inputImageFilename", "platformCredentialId"],
  ),
  async validate(p, ctx) {
    return [
      ...(await checkStorageFields("input", p.inputStorageLocation, p.inputImageFilename, ctx)),
      ...(await checkPlatformCredential(p.platformCredentialId, ctx)),
    ];
  },
  unsupported: (p) => [
    {
      field: "platform",
      message: `'${p.platform}' has no driver in this engine yet (this release moves disks between file:// and smb:// locations); the cloud drivers are planned`,
    },
  ],
  refusalCode: "PLATFORM_NOT_SUPPORTED",
  steps: () => [],
  async run() {
    throw new Error("unreachable: upload jobs are refused at submission");
  },
};
