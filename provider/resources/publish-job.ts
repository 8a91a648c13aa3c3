import { checkFileName } from "../jobs/checks";
import { jobResource } from "../jobs/job-resource";
import { guestOutputs, transferOutputs } from "./transfer-outputs";

/** PublishJob: a PVS vDisk in a store (IPS $publish, or $prepareAndPublish with provisioningType). */
export const publishJobHandler = jobResource({
  token: "imageport:index:PublishJob",
  noun: "publish",
  jobType: (inputs) => (inputs.provisioningType === undefined ? "publish" : "prepareAndPublish"),
  jobTypes: ["publish", "prepareAndPublish"],
  check: (inputs) => checkFileName(inputs, "outputImageFilename", ".vhdx"),
  outputs: (a) => ({ ...transferOutputs(a), ...guestOutputs(a), vdiskUri: a.vdiskUri, propertiesUri: a.propertiesUri, format: a.format }),
});
