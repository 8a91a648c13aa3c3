import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// A master VM on vCenter, found by name with getVirtualMachines: its disk exported to VHDX in
// a directory and made into a new master VM with a snapshot (an Image on vSphere), and the same
// VM migrated McsToMcs to an AMI. Everything comes from stack config.
const config = new pulumi.Config("vsphere");
const dir = (key: string) => ({ location: `file://${config.require("imageDir")}/${key}/` });

const vcenter = new imageport.Credential("vcenter", { type: "UsernamePassword", username: config.require("user"), password: config.requireSecret("password") });
const connection = {
  vsphereHost: config.require("host"),
  vspherePort: config.requireNumber("port"),
  vsphereCredentialId: vcenter.credentialId,
  vsphereSslFingerprint: config.require("fingerprint"),
};
const master = imageport.getVirtualMachinesOutput(connection).virtualMachines.apply((vms) => {
  const wanted = config.require("vmName");
  const vm = vms.find((v) => v.name === wanted);
  if (!vm) throw new Error(`no VM named ${wanted} on vCenter; it has ${vms.map((v) => v.name).join(", ")}`);
  return vm;
});

const exported = new imageport.ExportJob("master-disk", {
  ...connection,
  sourceVmId: master.id,
  outputStorageLocation: dir("exports"),
  outputImageFilename: "master.vhdx",
});

// The exported disk made into the master VM of an MCS catalog on vSphere, with its snapshot.
const masterVm = new imageport.Image("master-vm", {
  platform: "vsphere",
  ...connection,
  inputStorageLocation: exported.outputStorageLocation,
  inputImageFilename: exported.outputImageFilename,
  imageName: "golden-master",
  vsphereDatastore: config.require("datastore"),
  snapshotName: "mcs-base",
  hostingUnit: "vsphere-unit",
});

const aws = new imageport.Credential("aws", { type: "Aws", accessKeyId: config.require("accessKeyId"), secretAccessKey: config.requireSecret("secretAccessKey") });
const golden = new imageport.Migration("golden", {
  workflow: "McsToMcs",
  source: { vsphere: { ...connection, sourceVmName: master.name } },
  staging: dir("staging"),
  aws: { region: config.require("region"), credentialId: aws.credentialId, amiName: "golden-mcs" },
  hostingUnit: "unit-1",
  // The seeded VM disk holds files, not an OS: this e2e is about reading from vCenter.
  guest: { skipGuestPreparation: true },
});

export const vmId = master.id;
export const vmDisks = master.disks;
export const changeTracking = master.changeTrackingEnabled;
export const exportUri = exported.outputUri;
export const exportDigest = exported.blockDigest;
export const sourceBytesRead = exported.sourceBytesRead;
export const vsphereVmId = masterVm.imageId;
export const vsphereMasterImagePath = masterVm.masterImagePath;
export const imageId = golden.imageId;
export const masterImagePath = golden.masterImagePath;
export const blockDigest = golden.blockDigest;
