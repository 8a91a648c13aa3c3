import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// Every input comes from stack config so one program serves every test case; values are
// passed through unchecked so that bad ones reach the provider's check.
const config = new pulumi.Config("job");
const plain = (key: string) => {
  const value = config.get(key);
  return value !== undefined && config.getBoolean(`${key}AsSecret`) ? pulumi.secret(value) : value;
};
const args = {
  inputStorageLocation: { location: plain("inputLocation") },
  inputImageFilename: plain("inputImageFilename"),
  outputStorageLocation: { location: plain("outputLocation") },
  outputImageFilename: plain("outputImageFilename"),
  outputImageFormat: plain("outputImageFormat"),
  outputDiskType: plain("outputDiskType"),
  resourceLocationId: plain("resourceLocationId"),
  timeouts: config.get("createTimeout") ? { create: config.get("createTimeout") } : undefined,
};

const disk = new imageport.ExportJob("disk", args as unknown as imageport.ExportJobArgs);
export const jobId = disk.jobId;
export const outputUri = disk.outputUri;
export const blockDigest = disk.blockDigest;
export const status = disk.status;
