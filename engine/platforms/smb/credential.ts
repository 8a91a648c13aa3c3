import { jobFailure } from "../../errors";
import { StorageCredential } from "../storage";

/** What smbclient needs to log on. Never logged, never put in a message or an argv. */
export interface SmbCredential {
  id: string;
  username: string;
  password: string;
  domain?: string;
}

/**
 * Checks that a credential can log on to an SMB share through smbclient's authentication
 * file, whose parser drops leading blanks of a value and ends a value at a line break.
 */
export function toSmbCredential(credential: StorageCredential | undefined, uri: string): SmbCredential {
  if (credential === undefined) {
    throw jobFailure(
      "SHARE_ACCESS_DENIED",
      `The SMB location ${uri} needs a credential: create a UsernamePassword credential for the share ` +
        `and pass its id as credentialId.`,
    );
  }
  if (credential.type !== "UsernamePassword") {
    throw jobFailure(
      "SHARE_ACCESS_DENIED",
      `Credential '${credential.id}' is of type ${credential.type}, but the SMB location ${uri} needs a ` +
        `UsernamePassword credential (username, password, optional domain).`,
    );
  }
  const { username, password, domain } = credential.fields;
  const unusable = (field: string, why: string) =>
    jobFailure(
      "SHARE_ACCESS_DENIED",
      `The ${field} of credential '${credential.id}' cannot be used for SMB: ${why}. Update the credential.`,
    );
  if (!username) throw unusable("username", "it is empty");
  if (password === undefined) throw unusable("password", "it is missing");
  for (const [field, value] of [["username", username], ["password", password], ["domain", domain ?? ""]] as const) {
    if (/[\r\n\0]/.test(value)) throw unusable(field, "it contains a line break or NUL character");
    if (/^[ \t]/.test(value)) throw unusable(field, "it starts with a space or tab, which smbclient would drop");
    if (Buffer.byteLength(value, "utf8") > 1000) throw unusable(field, "it is longer than 1000 bytes");
  }
  return { id: credential.id, username, password, domain: domain || undefined };
}
