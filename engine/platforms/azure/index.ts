// engine/platforms/azure: the Azure target (managed-disk direct upload -> optional managed image; snapshots for MCS). Re-exports only.

export { ARM_ENDPOINT_ENV, AUTHORITY_HOST_ENV, azureEndpoints } from "./settings";
export type { AzureEndpoints } from "./settings";
export { ArmClient, openArmClient } from "./arm";
export { AzureCallError, azureFailure, isNotFound } from "./failures";
export { azureDiskBytes, fixedVhdFooter, MAX_DISK_BYTES, MIN_DISK_BYTES, VHD_FOOTER, vhdChecksum } from "./fixed-vhd";
export type { FooterOptions } from "./fixed-vhd";
export {
  beginWriteAccess,
  checkResourceGroup,
  createImage,
  createSnapshot,
  createUploadDisk,
  diskId,
  endAccess,
  getDisk,
  imageId,
  parseDiskId,
  snapshotId,
  DISKS_API_VERSION,
  IMAGES_API_VERSION,
} from "./managed-disk";
export type { ResourceGroupRef, SnapshotSpec, UploadDiskSpec } from "./managed-disk";
export { DEFAULT_RANGES_IN_FLIGHT, fixedVhdPages, MAX_PUT_PAGE, PAGE, writePages } from "./page-writer";
export type { PageRange, PageScan, PageWriteOptions, WrittenPages } from "./page-writer";
export { azureRemovalOrder, describeAzureResource, removeAzureResource } from "./resources";
export type { AzureResourceKind, AzureResourceRef, AzureResourceState } from "./resources";
