import { CheckFailure } from "../handler";
import { jobResource } from "../jobs/job-resource";

/** UploadJob: a disk uploaded to a cloud snapshot and image (IPS $upload). */
export const uploadJobHandler = jobResource({
  token: "imageport:index:UploadJob",
  noun: "upload",
  jobType: () => "upload",
  jobTypes: ["upload"],
  check(inputs) {
    const failures: CheckFailure[] = [];
    if (inputs.platform === "aws" && inputs.region === undefined) {
      failures.push({ property: "region", reason: "region is required for platform aws (e.g. us-east-1)" });
    }
    if (inputs.createAmi === false && inputs.amiName !== undefined) {
      failures.push({ property: "amiName", reason: "amiName names the AMI, but createAmi is false; remove one of them" });
    }
    return failures;
  },
  outputs: (a) => ({
    snapshotId: a.snapshotId,
    amiId: a.amiId,
    targetId: a.targetId,
    volumeSizeGiB: a.volumeSizeGiB,
    blocksWritten: a.blocksWritten,
    sizeBytes: a.sizeBytes,
    virtualSizeBytes: a.virtualSizeBytes,
    sha256: a.sha256,
  }),
});
