import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// A disk uploaded to AWS as an EBS snapshot and an AMI, with the AWS key in the wallet.
const config = new pulumi.Config("upload");

const aws = new imageport.Credential("aws", {
  type: "Aws",
  accessKeyId: config.require("accessKeyId"),
  secretAccessKey: config.requireSecret("secretAccessKey"),
});

const upload = new imageport.UploadJob("golden-ami", {
  platform: "aws",
  region: config.require("region"),
  platformCredentialId: aws.credentialId,
  inputStorageLocation: { location: config.require("inputLocation") },
  inputImageFilename: config.require("inputImageFilename"),
  amiName: config.get("amiName") ?? "golden-image",
});

export const jobId = upload.jobId;
export const snapshotId = upload.snapshotId;
export const amiId = upload.amiId;
export const blocksWritten = upload.blocksWritten;
export const sha256 = upload.sha256;
