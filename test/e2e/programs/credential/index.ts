import * as pulumi from "@pulumi/pulumi";
import * as imageport from "pulumi-imageport";

// Every input comes from stack config so one program serves every test case.
const config = new pulumi.Config("cred");
const args: Record<string, pulumi.Input<string>> = { type: config.require("type") };
for (const key of ["credentialId", "username", "domain", "accessKeyId", "tenantId", "clientId"]) {
  const value = config.get(key);
  if (value !== undefined) args[key] = config.getBoolean(`${key}AsSecret`) ? pulumi.secret(value) : value;
}
for (const key of ["password", "secretAccessKey", "sessionToken", "clientSecret", "serviceAccountKey"]) {
  const value = config.getSecret(key);
  if (value !== undefined) args[key] = value;
}

const credential = new imageport.Credential("cred", args as unknown as imageport.CredentialArgs);
export const credentialId = credential.credentialId;
export const state = credential.state;
export const createdAt = credential.createdAt;
export const updatedAt = credential.updatedAt;
