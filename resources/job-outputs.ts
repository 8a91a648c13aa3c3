import * as pulumi from "@pulumi/pulumi";
import { JobTimeouts, StorageLocation } from "./types";

export const TRANSFER_INPUTS = [
  "inputStorageLocation",
  "inputImageFilename",
  "inputImageFormat",
  "outputStorageLocation",
  "outputImageFilename",
  "overwriteOutput",
  "resourceLocationId",
  "tags",
  "timeouts",
] as const;
export const TRANSFER_OUTPUTS = ["jobId", "status", "sizeBytes", "virtualSizeBytes", "sourceVirtualSizeBytes", "blockDigest", "warnings"] as const;

/** Outputs every job-backed resource has: its inputs, the job and the verified disk. */
export abstract class TransferJobResource extends pulumi.CustomResource {
  declare readonly inputStorageLocation: pulumi.Output<StorageLocation>;
  declare readonly inputImageFilename: pulumi.Output<string>;
  declare readonly inputImageFormat: pulumi.Output<string | undefined>;
  declare readonly outputStorageLocation: pulumi.Output<StorageLocation>;
  declare readonly outputImageFilename: pulumi.Output<string>;
  declare readonly overwriteOutput: pulumi.Output<boolean | undefined>;
  declare readonly resourceLocationId: pulumi.Output<string | undefined>;
  declare readonly tags: pulumi.Output<Record<string, string> | undefined>;
  declare readonly timeouts: pulumi.Output<JobTimeouts | undefined>;
  /** The engine job that made the output; also the resource id. */
  declare readonly jobId: pulumi.Output<string>;
  /** `complete` once created; `notStarted` / `inProgress` after an interrupted `up`. */
  declare readonly status: pulumi.Output<string>;
  /** The output file's size in bytes, as last seen. */
  declare readonly sizeBytes: pulumi.Output<number>;
  declare readonly virtualSizeBytes: pulumi.Output<number>;
  declare readonly sourceVirtualSizeBytes: pulumi.Output<number>;
  /** Block digest of the disk's content, verified against the source (docs/engine.md says how to recompute it). */
  declare readonly blockDigest: pulumi.Output<string>;
  /** The job's warnings, as `CODE: message`. */
  declare readonly warnings: pulumi.Output<string[] | undefined>;
}
