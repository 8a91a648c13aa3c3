import { CheckFailure } from "../handler";
import { jobResource } from "../jobs/job-resource";
import { checkDiskInput } from "./transfer-outputs";

/** UploadJob: a disk uploaded to a cloud snapshot and image (IPS $upload). */
export const uploadJobHandler = jobResource({
  token: "imageport:index:UploadJob",
  noun: "upload",
  jobType: () => "upload",
  jobTypes: ["upload"],
  check(inputs) {
    const failures: CheckFailure[] = checkDiskInput(inputs);
    const required: Record<string, string[]> = { aws: ["region"], azure: ["region", "subscriptionId", "resourceGroup"], gcp: ["bucket"] };
    for (const key of required[inputs.platform as string] ?? []) {
      if (inputs[key] === undefined) failures.push({ property: key, reason: `${key} is required for platform ${inputs.platform}` });
    }
    if (inputs.createAmi === false && inputs.amiName !== undefined) {
      failures.push({ property: "amiName", reason: "amiName names the AMI, but createAmi is false; remove one of them" });
    }
    return failures;
  },
  outputs: (a) => ({
    snapshotId: a.snapshotId,
    amiId: a.amiId,
    diskId: a.diskId,
    imageId: a.imageId,
    targetId: a.targetId,
    volumeSizeGiB: a.volumeSizeGiB,
    blocksWritten: a.blocksWritten,
    sizeBytes: a.sizeBytes,
    virtualSizeBytes: a.virtualSizeBytes,
    blockDigest: a.blockDigest,
    sha256: a.sha256,
    sourceDisk: a.sourceDisk,
    sourceBytesRead: a.sourceBytesRead,
  }),
});
