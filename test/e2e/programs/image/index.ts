import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// An upload that leaves only the snapshot (AWS) or the managed disk (Azure), and the Image an
// MCS catalog consumes, made from it in a second step.
const config = new pulumi.Config("image");
const platform = config.get("platform") ?? "aws";
const inputStorageLocation = { location: config.require("inputLocation") };
const inputImageFilename = config.require("inputImageFilename");
const hostingUnit = config.get("hostingUnit");

let upload: imageport.UploadJob;
let image: imageport.Image;
if (platform === "azure") {
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
    inputStorageLocation,
    inputImageFilename,
    targetDiskName: "golden-disk",
  });
  image = new imageport.Image("golden", {
    platform: "azure",
    platformCredentialId: azure.credentialId,
    diskId: upload.diskId,
    imageName: "golden-snapshot",
    hostingUnit,
  });
} else {
  const aws = new imageport.Credential("aws", {
    type: "Aws",
    accessKeyId: config.require("accessKeyId"),
    secretAccessKey: config.requireSecret("secretAccessKey"),
  });
  const region = config.require("region");
  upload = new imageport.UploadJob("golden-snapshot", {
    platform: "aws",
    region,
    platformCredentialId: aws.credentialId,
    inputStorageLocation,
    inputImageFilename,
    createAmi: false,
  });
  image = new imageport.Image("golden", {
    platform: "aws",
    region,
    platformCredentialId: aws.credentialId,
    snapshotId: upload.snapshotId,
    imageName: "golden-2026.11",
    hostingUnit,
    tags: { team: "vdi" },
  });
}

export const uploadJobId = upload.jobId;
export const snapshotId = upload.snapshotId;
export const diskId = upload.diskId;
export const imageJobId = image.jobId;
export const imageId = image.imageId;
export const sourceId = image.sourceId;
export const masterImagePath = image.masterImagePath;
