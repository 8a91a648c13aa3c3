import { LocalStorage } from "./local";
import { parseLocation } from "./location";
import { SmbStorage, SmbStorageOptions, toSmbCredential } from "./smb";
import { Storage, StorageCredential } from "./storage";

export * from "./storage";
export { assertFileName, checkFileName, checkLocation, fileNameProblem, parseLocation, DEFAULT_SMB_PORT } from "./location";
export { partialName, isPartialOf } from "./partial-names";
export type { FileLocation, ParsedLocation, SmbLocation } from "./location";
export { LocalStorage } from "./local";
export { SmbStorage } from "./smb";
export type { SmbStorageOptions } from "./smb";

export interface OpenStorageOptions {
  smb?: SmbStorageOptions;
}

/**
 * The Storage for a location, chosen by scheme. smb:// needs a UsernamePassword credential
 * (a coded SHARE_ACCESS_DENIED error otherwise); file:// ignores the credential.
 * An invalid location throws ValidationFailedError (field "location").
 */
export function openStorage(uri: string, credential: StorageCredential | undefined, options: OpenStorageOptions = {}): Storage {
  const location = parseLocation(uri);
  switch (location.scheme) {
    case "file":
      return new LocalStorage(location);
    case "smb":
      return new SmbStorage(location, toSmbCredential(credential, location.uri), options.smb);
  }
}
