import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

const config = new pulumi.Config();

// The account imageport uses to write exported and published disks to the PVS store share.
const storeAccess = new imageport.Credential("pvs-store", {
  type: "UsernamePassword",
  username: config.get("storeUser") ?? "imageport",
  password: config.requireSecret("storePassword"),
});

export const storeCredentialId = storeAccess.credentialId;
export const storeCredentialState = storeAccess.state;
