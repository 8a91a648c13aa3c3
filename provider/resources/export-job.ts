import { jobResource } from "../jobs/job-resource";
import { TRANSFER_KEYS, transferOutputs } from "./transfer-outputs";

/** ExportJob: a disk exported to VHD or VHDX (IPS $export). */
export const exportJobHandler = jobResource({
  noun: "export",
  jobType: () => "export",
  jobTypes: ["export"],
  requestKeys: [...TRANSFER_KEYS, "outputImageFormat", "outputDiskType"],
  outputs: (a) => ({ ...transferOutputs(a), outputUri: a.outputUri, format: a.format, diskType: a.diskType }),
});
