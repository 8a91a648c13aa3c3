// The EBS and EC2 clients for one job: the Aws credential from the wallet, the request's
// region, and the engine's endpoint setting (IMAGEPORT_AWS_ENDPOINT_URL, for moto in tests).

import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { jobFailure } from "../../errors";
import { StorageCredential } from "../storage";

export const ENDPOINT_ENV = "IMAGEPORT_AWS_ENDPOINT_URL";

/** The form of an AWS region name (us-east-1, ap-southeast-2, us-gov-west-1). */
export const AWS_REGION = /^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$/;

export interface AwsClients {
  region: string;
  /** The endpoint override, when set (named in error messages; carries no secret). */
  endpoint?: string;
  ebs: EBSClient;
  ec2: EC2Client;
  destroy(): void;
}

/** The endpoint override, or undefined for the regional AWS endpoints. */
export function endpointSetting(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[ENDPOINT_ENV]?.trim();
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw jobFailure("ENGINE_SETTING_INVALID", `${ENDPOINT_ENV} is set to something that is not a URL; set it to e.g. http://127.0.0.1:5000 or unset it.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw jobFailure("ENGINE_SETTING_INVALID", `${ENDPOINT_ENV} must be an http:// or https:// URL; it has the scheme '${url.protocol}'.`);
  }
  if (url.username || url.password) {
    throw jobFailure("ENGINE_SETTING_INVALID", `${ENDPOINT_ENV} must not carry user info; AWS credentials come from the credential wallet.`);
  }
  return url.href.replace(/\/$/, "");
}

export function openAwsClients(credential: StorageCredential, region: string): AwsClients {
  if (credential.type !== "Aws") {
    throw jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' is of type ${credential.type}; AWS calls need an Aws credential (platformCredentialId).`);
  }
  const { accessKeyId, secretAccessKey, sessionToken } = credential.fields;
  if (!accessKeyId || !secretAccessKey) {
    throw jobFailure("CREDENTIAL_UNUSABLE", `Credential '${credential.id}' lacks accessKeyId or secretAccessKey; replace it with PUT /ips/credentials/${credential.id}.`);
  }
  const endpoint = endpointSetting();
  const config = {
    region,
    // Static credentials: the SDK never looks elsewhere (no profile files, no instance metadata).
    credentials: sessionToken ? { accessKeyId, secretAccessKey, sessionToken } : { accessKeyId, secretAccessKey },
    maxAttempts: 3,
    ...(endpoint ? { endpoint } : {}),
  };
  const ebs = new EBSClient(config);
  const ec2 = new EC2Client(config);
  return {
    region,
    ...(endpoint ? { endpoint } : {}),
    ebs,
    ec2,
    destroy() {
      ebs.destroy();
      ec2.destroy();
    },
  };
}
