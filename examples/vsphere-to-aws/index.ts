import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// MCS -> MCS, vSphere to AWS: the master VM is found on vCenter by name, its disk is read
// straight from the datastore as of a snapshot the job takes (and removes), exported to VHDX,
// prepared for MCS and uploaded as an EBS snapshot, and an Image (the AMI) is registered from
// it; the AMI then backs an EC2 launch template, and masterImagePath names it for an MCS
// catalog in the hosting unit.
const config = new pulumi.Config();
const awsConfig = new pulumi.Config("aws");

const vcenterAccount = new imageport.Credential("vcenter", {
  type: "UsernamePassword",
  username: config.require("vcenterUser"),
  password: config.requireSecret("vcenterPassword"),
  domain: config.get("vcenterDomain") ?? "vsphere.local",
});
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

// How the engine reaches vCenter: pin its certificate (`govc about.cert -thumbprint`), or give
// the VMCA root as vcenterCaCertificate.
const vcenter = {
  vsphereHost: config.require("vcenterHost"),
  vsphereCredentialId: vcenterAccount.credentialId,
  vsphereSslFingerprint: config.get("vcenterFingerprint"),
  vsphereSslCaCertificate: config.get("vcenterCaCertificate"),
};

// The master VM, by name; fails the preview early, listing the VMs, if it is not there.
const masterName = config.get("masterVm") ?? "win11-golden";
const master = imageport.getVirtualMachinesOutput(vcenter).virtualMachines.apply((vms) => {
  const vm = vms.find((v) => v.name === masterName);
  if (!vm) throw new Error(`vCenter has no VM named ${masterName}; it has: ${vms.map((v) => v.name).join(", ")}`);
  if (!vm.changeTrackingEnabled) pulumi.log.warn(`${masterName} does not track changed blocks: its whole disk is read (zeros are skipped)`);
  return vm;
});

const onShare = (path: string) => ({ location: `smb://${config.require("shareHost")}/${path}/`, credentialId: share.credentialId });

const golden = new imageport.Migration("win11-golden", {
  workflow: "McsToMcs",
  source: { vsphere: { ...vcenter, sourceVmId: master.id } },
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

// The master VM as a vSphere program (e.g. @pulumi/vsphere's getVirtualMachine) names it.
export const masterVm = { id: master.id, name: master.name, guestFullName: master.guestFullName, disks: master.disks };
export const amiId = golden.imageId;
export const snapshotId = golden.snapshotId;
export const masterImagePath = golden.masterImagePath;
export const imageBlockDigest = golden.blockDigest;
export const launchTemplateId = template.id;
