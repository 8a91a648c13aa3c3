// engine/platforms/aws: the AWS target (EBS direct snapshot -> AMI). Re-exports only.

export { AWS_REGION, ENDPOINT_ENV, endpointSetting, openAwsClients } from "./clients";
export type { AwsClients } from "./clients";
export { EBS_BLOCK, dataBlocks } from "./data-blocks";
export type { BlockScanOptions, DataBlock } from "./data-blocks";
export { awsFailure, isNotFound } from "./failures";
export { findOwnImage, registerImage, ROOT_DEVICE, waitForImage } from "./image";
export type { ImageSpec } from "./image";
export { describeResource, removeResource, removalOrder } from "./resources";
export type { CloudResourceKind, CloudResourceRef, CloudResourceState } from "./resources";
export { DEFAULT_BLOCKS_IN_FLIGHT, volumeSizeGiB, waitForSnapshot, writeSnapshot } from "./snapshot-writer";
export type { SnapshotWriteOptions, WrittenSnapshot } from "./snapshot-writer";
export { checkRegionReachable } from "./probe";
