import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// MCS -> MCS, vSphere to AWS: the master VM's disk, copied from its datastore to an SMB share,
// is exported to VHDX, prepared for MCS and uploaded as an EBS snapshot, and an Image (the AMI)
// is registered from it; the AMI then backs an EC2 launch template, and masterImagePath names
// it for an MCS catalog in the hosting unit.
const config = new pulumi.Config();
const awsConfig = new pulumi.Config("aws");

const share = new imageport.Credential("image-share", {
  type: "UsernamePassword",
  username: config.require("shareUser"),
  password: config.requireSecret("sharePassword"),
});
const awsKey = new imageport.Credential("aws-upload", {
  type: "Aws",
  accessKeyId: config.require("awsAccessKeyId"),
  secretAccessKey: config.requireSecret("awsSecretAccessKey"),
});

const onShare = (path: string) => ({ location: `smb://${config.require("shareHost")}/${path}/`, credentialId: share.credentialId });

const golden = new imageport.Migration("win11-golden", {
  workflow: "McsToMcs",
  source: { location: onShare("images/vsphere"), imageFilename: config.get("masterDisk") ?? "win11-golden.vmdk" },
  staging: onShare("images/staging"),
  aws: { region: awsConfig.require("region"), credentialId: awsKey.credentialId, amiName: "win11-golden" },
  hostingUnit: config.get("hostingUnit") ?? "aws-us-east-1",
  timeouts: { create: "4h" },
});

// What the catalog provisions from: machines launched from the migrated image.
const template = new aws.ec2.LaunchTemplate("win11-vda", {
  imageId: golden.imageId!,
  instanceType: config.get("instanceType") ?? "m6i.large",
  tagSpecifications: [{ resourceType: "instance", tags: { Role: "citrix-vda", Image: "win11-golden" } }],
});

export const amiId = golden.imageId;
export const snapshotId = golden.snapshotId;
export const masterImagePath = golden.masterImagePath;
export const imageSha256 = golden.sha256;
export const launchTemplateId = template.id;
