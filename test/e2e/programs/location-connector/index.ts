import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// Every input comes from stack config so one program serves every step of the test.
const config = new pulumi.Config("lc");

const location = new imageport.ResourceLocation("location", {
  resourceLocationId: config.require("locationId"),
  name: config.get("locationName"),
  maxConcurrentJobs: config.getNumber("locationMaxJobs"),
});

// Taking the location's output makes Pulumi create the location first and delete it last.
const connector = new imageport.ConnectorRegistration("connector", {
  name: config.get("connectorName") ?? "worker-1",
  resourceLocationId: location.resourceLocationId,
  maxConcurrentJobs: config.getNumber("connectorMaxJobs"),
});

// A location created outside Pulumi, brought in with `pulumi import`, then declared here.
const importedId = config.get("importedId");
const imported = importedId
  ? new imageport.ResourceLocation("imported", {
      resourceLocationId: importedId,
      name: config.get("importedName"),
      maxConcurrentJobs: config.getNumber("importedMaxJobs"),
    })
  : undefined;

export const resourceLocationId = location.resourceLocationId;
export const locationName = location.name;
export const locationMaxJobs = location.maxConcurrentJobs;
export const connectorId = connector.connectorId;
export const status = connector.status;
export const registered = connector.registered;
export const registrationCode = connector.registrationCode;
export const registrationExpiresAt = connector.registrationExpiresAt;
export const importedLocationId = imported?.resourceLocationId;
