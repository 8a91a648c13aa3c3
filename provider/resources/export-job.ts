import { jobResource } from "../jobs/job-resource";
import { checkDiskInput, transferOutputs } from "./transfer-outputs";

/** ExportJob: a disk exported to VHD or VHDX (IPS $export). */
export const exportJobHandler = jobResource({
  token: "imageport:index:ExportJob",
  noun: "export",
  jobType: () => "export",
  jobTypes: ["export"],
  outputs: (a) => ({
    ...transferOutputs(a),
    outputUri: a.outputUri,
    format: a.format,
    diskType: a.diskType,
    sha256: a.sha256,
    sourceDisk: a.sourceDisk,
    sourceBytesRead: a.sourceBytesRead,
  }),
  check: checkDiskInput,
});
