import * as compute from "@pulumi/azure-native/compute";
import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// MCS -> MCS, on-premises to Azure: the master image's disk on an SMB share is exported,
// prepared for MCS and uploaded as a managed disk (only the non-zero pages travel); its Image is
// a snapshot of that disk (an MCS master image, named by masterImagePath), which also becomes a
// Compute Gallery image version, which an MCS catalog on Azure can provision from.
const config = new pulumi.Config();
const azureConfig = new pulumi.Config("azure-native");
const location = azureConfig.require("location");
const subscriptionId = config.require("subscriptionId");
const resourceGroup = config.require("resourceGroup");

const share = new imageport.Credential("image-share", {
  type: "UsernamePassword",
  username: config.require("shareUser"),
  password: config.requireSecret("sharePassword"),
});
const principal = new imageport.Credential("azure-upload", {
  type: "Azure",
  tenantId: config.require("tenantId"),
  clientId: config.require("clientId"),
  clientSecret: config.requireSecret("clientSecret"),
});

const onShare = (path: string) => ({ location: `smb://${config.require("shareHost")}/${path}/`, credentialId: share.credentialId });

const golden = new imageport.Migration("win11-golden", {
  workflow: "McsToMcs",
  source: { location: onShare("images/master"), imageFilename: config.get("masterDisk") ?? "win11-golden.vhdx" },
  staging: onShare("images/staging"),
  azure: { region: location, subscriptionId, resourceGroup, credentialId: principal.credentialId, diskName: "win11-golden-os", snapshotName: "win11-golden" },
  hostingUnit: config.get("hostingUnit") ?? "azure-westeurope",
  timeouts: { create: "4h" },
});

// The gallery image version MCS consumes ("prepared image" in Citrix terms).
const gallery = new compute.Gallery("images", { resourceGroupName: resourceGroup, location });
const definition = new compute.GalleryImage("win11-vda", {
  resourceGroupName: resourceGroup,
  galleryName: gallery.name,
  location,
  osType: "Windows",
  osState: "Generalized",
  hyperVGeneration: "V1",
  identifier: { publisher: "Contoso", offer: "CitrixVDA", sku: "win11-golden" },
});
const version = new compute.GalleryImageVersion("1.0.0", {
  resourceGroupName: resourceGroup,
  galleryName: gallery.name,
  galleryImageName: definition.name,
  galleryImageVersionName: "1.0.0",
  location,
  storageProfile: { osDiskImage: { source: { id: golden.imageId! } } },
});

export const snapshotId = golden.imageId;
export const masterImagePath = golden.masterImagePath;
export const imageBlockDigest = golden.blockDigest;
export const galleryImageVersionId = version.id;
