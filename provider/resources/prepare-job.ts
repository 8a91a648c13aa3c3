import { integerInRange } from "../checks";
import { jobResource } from "../jobs/job-resource";
import { TRANSFER_KEYS, transferOutputs } from "./transfer-outputs";

/** PrepareJob: a disk prepared for MCS or PVS (IPS $prepare). */
export const prepareJobHandler = jobResource({
  noun: "prepare",
  jobType: () => "prepare",
  jobTypes: ["prepare"],
  requestKeys: [...TRANSFER_KEYS, "provisioningType", "outputImageFormat", "outputDiskType", "outputSizeMb"],
  check: (inputs) => integerInRange(inputs, "outputSizeMb", 1, 67_108_864),
  outputs: (a) => ({ ...transferOutputs(a), outputUri: a.outputUri, format: a.format }),
});
