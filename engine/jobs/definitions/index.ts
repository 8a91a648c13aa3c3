import { JobDefinition } from "../definition";
import { JobType } from "../model";
import { createImageJob } from "./create-image";
import { deleteJob } from "./delete";
import { exportJob } from "./export";
import { inspectJob } from "./inspect";
import { listVirtualMachinesJob } from "./list-virtual-machines";
import { prepareJob } from "./prepare";
import { prepareAndPublishJob, publishJob } from "./publish";
import { uploadJob } from "./upload";

export const JOB_DEFINITIONS: Record<JobType, JobDefinition> = {
  export: exportJob,
  upload: uploadJob,
  prepare: prepareJob,
  prepareAndPublish: prepareAndPublishJob,
  publish: publishJob,
  createImage: createImageJob,
  delete: deleteJob,
  inspect: inspectJob,
  listVirtualMachines: listVirtualMachinesJob,
};
