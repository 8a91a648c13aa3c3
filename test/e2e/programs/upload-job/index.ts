import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// A disk uploaded to a cloud: an AMI on AWS, a managed disk and image on Azure, an image on GCP; the cloud's
// key lives in the wallet.
const config = new pulumi.Config("upload");
const platform = config.get("platform") ?? "aws";
const location = { location: config.require("inputLocation") };
const inputImageFilename = config.require("inputImageFilename");

let upload: imageport.UploadJob;
if (platform === "gcp") {
  const gcp = new imageport.Credential("gcp", { type: "Gcp", serviceAccountKey: config.requireSecret("serviceAccountKey") });
  upload = new imageport.UploadJob("golden-image", {
    platform: "gcp",
    bucket: config.require("bucket"),
    platformCredentialId: gcp.credentialId,
    inputStorageLocation: location,
    inputImageFilename,
    targetImageName: "golden-image",
  });
} else if (platform === "azure") {
  const azure = new imageport.Credential("azure", {
    type: "Azure",
    tenantId: config.require("tenantId"),
    clientId: config.require("clientId"),
    clientSecret: config.requireSecret("clientSecret"),
  });
  upload = new imageport.UploadJob("golden-disk", {
    platform: "azure",
    region: config.require("region"),
    subscriptionId: config.require("subscriptionId"),
    resourceGroup: config.require("resourceGroup"),
    platformCredentialId: azure.credentialId,
    inputStorageLocation: location,
    inputImageFilename,
    targetDiskName: "golden-disk",
    createImage: true,
    imageName: "golden-image",
  });
} else {
  const aws = new imageport.Credential("aws", {
    type: "Aws",
    accessKeyId: config.require("accessKeyId"),
    secretAccessKey: config.requireSecret("secretAccessKey"),
  });
  upload = new imageport.UploadJob("golden-ami", {
    platform: "aws",
    region: config.require("region"),
    platformCredentialId: aws.credentialId,
    inputStorageLocation: location,
    inputImageFilename,
    amiName: config.get("amiName") ?? "golden-image",
  });
}

export const jobId = upload.jobId;
export const snapshotId = upload.snapshotId;
export const amiId = upload.amiId;
export const diskId = upload.diskId;
export const imageId = upload.imageId;
export const targetId = upload.targetId;
export const blocksWritten = upload.blocksWritten;
export const blockDigest = upload.blockDigest;
