import { integerInRange } from "../checks";
import { jobResource } from "../jobs/job-resource";
import { guestOutputs, transferOutputs } from "./transfer-outputs";

/** PrepareJob: a disk prepared for MCS or PVS (IPS $prepare). */
export const prepareJobHandler = jobResource({
  token: "imageport:index:PrepareJob",
  noun: "prepare",
  jobType: () => "prepare",
  jobTypes: ["prepare"],
  check: (inputs) => integerInRange(inputs, "outputSizeMb", 1, 67_108_864),
  outputs: (a) => ({ ...transferOutputs(a), ...guestOutputs(a), outputUri: a.outputUri, format: a.format }),
});
