import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// PVS -> MCS on GCP: a vDisk from the PVS store is prepared for MCS, packed as a sparse
// disk.raw tar.gz in a GCS bucket (only the data travels) and made a Compute Engine image;
// an instance template then provisions machines from it.
const config = new pulumi.Config();

const store = new imageport.Credential("pvs-store", {
  type: "UsernamePassword",
  username: config.require("storeUser"),
  password: config.requireSecret("storePassword"),
});
const serviceAccount = new imageport.Credential("gcp-upload", {
  type: "Gcp",
  serviceAccountKey: config.requireSecret("serviceAccountKey"),
});
const onShare = (path: string) => ({ location: `smb://${config.require("storeHost")}/${path}/`, credentialId: store.credentialId });

const prepared = new imageport.PrepareJob("win10-mcs", {
  provisioningType: "Mcs",
  inputStorageLocation: onShare("store"),
  inputImageFilename: config.get("vdisk") ?? "win10-pvs.vhdx",
  outputStorageLocation: onShare("staging"),
  outputImageFilename: "win10-mcs.vhdx",
});

const image = new imageport.UploadJob("win10-image", {
  platform: "gcp",
  bucket: config.require("bucket"),
  platformCredentialId: serviceAccount.credentialId,
  inputStorageLocation: prepared.outputStorageLocation,
  inputImageFilename: prepared.outputImageFilename,
  targetImageName: "win10-golden",
  timeouts: { create: "4h" },
});

const template = new gcp.compute.InstanceTemplate("win10-vda", {
  machineType: config.get("machineType") ?? "n2-standard-4",
  disks: [{ sourceImage: image.targetId, boot: true, autoDelete: true }],
  networkInterfaces: [{ network: config.get("network") ?? "default" }],
  labels: { role: "citrix-vda" },
});

export const imageSelfLink = image.targetId;
export const imageBlockDigest = image.blockDigest;
export const instanceTemplate = template.selfLink;
