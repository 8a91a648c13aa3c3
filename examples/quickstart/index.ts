import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// A golden image moved into a PVS store on the embedded engine, with local directories:
// export it to VHDX, prepare it for PVS (the guest is edited offline: its facts read, a change
// record written), publish it as a vDisk. `scripts/demo` makes the directories and a small
// Linux source disk; point `imageDir` at your own to move a real one.
const config = new pulumi.Config();
const imageDir = config.require("imageDir");
const dir = (name: string) => ({ location: `file://${imageDir}/${name}/` });

const exported = new imageport.ExportJob("golden-export", {
  inputStorageLocation: dir("source"),
  inputImageFilename: config.get("sourceDisk") ?? "golden-linux.qcow2",
  outputStorageLocation: dir("exports"),
  outputImageFilename: config.get("exportName") ?? "golden.vhdx",
  timeouts: { create: "30m" },
});

const prepared = new imageport.PrepareJob("golden-pvs", {
  provisioningType: "Pvs",
  inputStorageLocation: exported.outputStorageLocation,
  inputImageFilename: exported.outputImageFilename,
  outputStorageLocation: dir("prepared"),
  outputImageFilename: "golden-pvs.vhdx",
});

const vdisk = new imageport.PublishJob("golden-vdisk", {
  inputStorageLocation: prepared.outputStorageLocation,
  inputImageFilename: prepared.outputImageFilename,
  outputStorageLocation: dir("store"),
  outputImageFilename: config.get("vdiskName") ?? "golden-v1.vhdx",
  vdiskDescription: "Golden image, published by imageport",
});

export const exportUri = exported.outputUri;
export const exportBlockDigest = exported.blockDigest;
export const preparedUri = prepared.outputUri;
export const guestOs = prepared.guest.apply((g) => g?.osFamily);
export const guestProduct = prepared.guest.apply((g) => g?.productName);
export const vdiskUri = vdisk.vdiskUri;
export const vdiskPropertiesUri = vdisk.propertiesUri;
export const vdiskBlockDigest = vdisk.blockDigest;
