import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// PVS -> PVS over SMB: a vDisk in the old site's store is prepared for PVS and published into
// the new site's store as a VHDX plus its properties file, in one job that runs on a connector
// next to the shares.
const config = new pulumi.Config();

const site = new imageport.ResourceLocation("new-site", { name: "New site (PVS farm B)", maxConcurrentJobs: 2 });
const connector = new imageport.ConnectorRegistration("new-site-connector", {
  name: "pvs-b-connector-1",
  resourceLocationId: site.resourceLocationId,
});

const oldStore = new imageport.Credential("old-store", {
  type: "UsernamePassword",
  username: config.require("oldStoreUser"),
  password: config.requireSecret("oldStorePassword"),
});
const newStore = new imageport.Credential("new-store", {
  type: "UsernamePassword",
  username: config.require("newStoreUser"),
  password: config.requireSecret("newStorePassword"),
});

const vdisk = new imageport.Migration("win10-pvs", {
  workflow: "PvsToPvs",
  source: {
    location: { location: `smb://${config.require("oldStore")}/`, credentialId: oldStore.credentialId },
    imageFilename: config.get("vdisk") ?? "win10-pvs.vhdx",
  },
  pvs: {
    store: { location: `smb://${config.require("newStore")}/`, credentialId: newStore.credentialId },
    vdiskName: config.get("vdisk") ?? "win10-pvs.vhdx",
    description: "Moved from PVS farm A by imageport",
  },
  resourceLocationId: site.resourceLocationId,
  timeouts: { create: "3h" },
});

// Start `imageport connector --engine URL --code CODE` on a machine next to both shares.
export const connectorRegistrationCode = connector.registrationCode;
export const vdiskUri = vdisk.vdiskUri;
export const vdiskBlockDigest = vdisk.blockDigest;
