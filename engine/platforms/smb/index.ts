export { SmbStorage } from "./smb-storage";
export type { SmbStorageOptions } from "./smb-storage";
export { toSmbCredential } from "./credential";
export type { SmbCredential } from "./credential";
