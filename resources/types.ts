import * as pulumi from "@pulumi/pulumi";

/** A directory that holds disks: `file:///dir/` on the connector's machine, or `smb://host[:port]/share/path/`. */
export interface StorageLocationArgs {
  /** `file:///absolute/dir/` or `smb://host[:port]/share/path/`; the directory must exist. */
  location: pulumi.Input<string>;
  /** The UsernamePassword credential for an `smb://` location (required there, not allowed for `file://`). */
  credentialId?: pulumi.Input<string>;
}

export interface StorageLocation {
  location: string;
  credentialId?: string;
}

/** Durations such as `90s`, `30m`, `2h`, `1h30m`; the `customTimeouts` resource option wins when given. */
export interface JobTimeoutsArgs {
  /** From submission to a verified output (default `2h`); when it passes the job is cancelled. */
  create?: pulumi.Input<string>;
  /** Removing the outputs (default `10m`). */
  delete?: pulumi.Input<string>;
}

export interface JobTimeouts {
  create?: string;
  delete?: string;
}

export type DiskFormat = "raw" | "qcow2" | "vmdk" | "vhd" | "vhdx";
export type ExportFormat = "vhd" | "vhdx";
export type DiskType = "dynamic" | "fixed";
export type ProvisioningType = "Mcs" | "Pvs";

/** The inputs every disk-to-disk job takes. */
export interface TransferJobArgs {
  /** Where the source disk is. Changing it replaces the resource. */
  inputStorageLocation: pulumi.Input<StorageLocationArgs>;
  /** The source disk's file name (raw, qcow2, vmdk, vhd or vhdx; no backing files). */
  inputImageFilename: pulumi.Input<string>;
  /** The source disk's format; default: from the file name's extension. */
  inputImageFormat?: pulumi.Input<DiskFormat>;
  /** Where the output is written. */
  outputStorageLocation: pulumi.Input<StorageLocationArgs>;
  /** The output's file name; it appears only once complete and verified. */
  outputImageFilename: pulumi.Input<string>;
  /** Replace a file of that name if one exists (default false). */
  overwriteOutput?: pulumi.Input<boolean>;
  /** The resource location whose connectors run the job (default `local`). */
  resourceLocationId?: pulumi.Input<string>;
  /** Labels recorded on the engine's job. */
  tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** How long to wait for the job. */
  timeouts?: pulumi.Input<JobTimeoutsArgs>;
}
