import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// One Migration; the workflow and the places come from stack config.
const config = new pulumi.Config("migration");
const dir = (key: string) => ({ location: `file://${config.require("imageDir")}/${key}/` });
const workflow = config.require("workflow") as imageport.MigrationWorkflow;

const cloud = workflow.endsWith("ToMcs") ? (config.get("cloud") ?? "aws") : undefined;
const aws = cloud === "aws"
  ? new imageport.Credential("aws", { type: "Aws", accessKeyId: config.require("accessKeyId"), secretAccessKey: config.requireSecret("secretAccessKey") })
  : undefined;
const azure = cloud === "azure"
  ? new imageport.Credential("azure", { type: "Azure", tenantId: config.require("tenantId"), clientId: config.require("clientId"), clientSecret: config.requireSecret("clientSecret") })
  : undefined;

const migration = new imageport.Migration("golden", {
  workflow,
  source: { location: dir("source"), imageFilename: config.require("sourceDisk") },
  staging: dir("staging"),
  pvs: { store: dir("store"), vdiskName: "golden.vhdx", description: "migrated by imageport" },
  aws: aws && { region: config.require("region"), credentialId: aws.credentialId, amiName: "golden-mcs" },
  azure: azure && {
    region: config.require("region"),
    subscriptionId: config.require("subscriptionId"),
    resourceGroup: config.require("resourceGroup"),
    credentialId: azure.credentialId,
    diskName: "golden-mcs",
    snapshotName: "golden-mcs-snapshot",
  },
  hostingUnit: "unit-1",
  // The test's source disks hold random data, not an OS: this e2e is about the data path.
  guest: { skipGuestPreparation: true },
});

export const vdiskUri = migration.vdiskUri;
export const imageId = migration.imageId;
export const snapshotId = migration.snapshotId;
export const masterImagePath = migration.masterImagePath;
export const blockDigest = migration.blockDigest;
