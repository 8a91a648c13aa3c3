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

/** One VDA setting (IPS's xdReconfigure): `controllers`, `portnumber` or `enable_hdx_ports`. */
export interface XdReconfigureParameter {
  ParameterName: string;
  ParameterValue: string;
}

/** The guest preparation's inputs (PrepareJob, and PublishJob with provisioningType). */
export interface GuestPreparationArgs {
  /** VDA settings: controllers go where the VDA reads them; ports through the VDA's own /reconfigure at first boot. */
  xdReconfigure?: pulumi.Input<pulumi.Input<XdReconfigureParameter>[]>;
  /** Leave the AD domain at first boot. */
  domainUnjoin?: pulumi.Input<boolean>;
  /** Mcs: install the machine identity service agent at first boot (from misaInstaller). */
  installMisa?: pulumi.Input<boolean>;
  /** Mcs: install MCS I/O at first boot (from mcsioInstaller). */
  installMcsio?: pulumi.Input<boolean>;
  /** Pvs: the PVS target device version to install at first boot (from pvsInstaller). */
  installPvs?: pulumi.Input<string>;
  /** The directory holding the installers. */
  installerStorageLocation?: pulumi.Input<StorageLocationArgs>;
  misaInstaller?: pulumi.Input<string>;
  mcsioInstaller?: pulumi.Input<string>;
  pvsInstaller?: pulumi.Input<string>;
  /** Format and geometry only, for a disk with no OS: the guest is not looked at or changed. */
  skipGuestPreparation?: pulumi.Input<boolean>;
}

export const GUEST_PREPARATION_INPUTS = [
  "xdReconfigure",
  "domainUnjoin",
  "installMisa",
  "installMcsio",
  "installPvs",
  "installerStorageLocation",
  "misaInstaller",
  "mcsioInstaller",
  "pvsInstaller",
  "skipGuestPreparation",
] as const;

/** What the preparation found in the guest. */
export interface GuestFacts {
  osFamily: "Windows" | "Linux";
  productName?: string;
  version?: string;
  build?: string;
  edition?: string;
  architecture?: string;
  hostname?: string;
  domain?: string;
  workgroup?: string;
  vdaVersion?: string;
  bootType: "UEFI" | "BIOS";
  systemPartition: number;
  fileSystem: string;
}

export const GUEST_PREPARATION_OUTPUTS = ["guest", "changeRecord", "guestRecordPath"] as const;

/** The inputs every disk-to-disk job takes. */
/** How a job reaches vCenter. */
export interface VsphereConnectionArgs {
  /** vCenter (or ESXi) host name or address. */
  vsphereHost?: pulumi.Input<string>;
  /** vCenter's HTTPS port (default 443). */
  vspherePort?: pulumi.Input<number>;
  /** A `UsernamePassword` Credential for vCenter. */
  vsphereCredentialId?: pulumi.Input<string>;
  /** PEM of the CA that issued vCenter's certificate; default: the system CAs. */
  vsphereSslCaCertificate?: pulumi.Input<string>;
  /** Trust exactly the certificate with this SHA-1 or SHA-256 fingerprint. */
  vsphereSslFingerprint?: pulumi.Input<string>;
  /** Accept a certificate issued for another name (its chain is still verified). */
  vsphereSslNoCheckHostname?: pulumi.Input<boolean>;
}

/**
 * A VM's disk on vCenter as a job's input, read straight from its datastore as of a snapshot
 * the job takes and removes (instead of `inputStorageLocation` and `inputImageFilename`).
 */
export interface VsphereSourceArgs extends VsphereConnectionArgs {
  /** The VM by name (unique), or use `sourceVmPath` / `sourceVmId`. */
  sourceVmName?: pulumi.Input<string>;
  /** The VM by inventory path, e.g. `DC0/vm/golden/win11`. */
  sourceVmPath?: pulumi.Input<string>;
  /** The VM by managed object id, e.g. `vm-42`. */
  sourceVmId?: pulumi.Input<string>;
  /** The disk's label or backing file; needed when the VM has more than one disk. */
  sourceDiskName?: pulumi.Input<string>;
}

export const VSPHERE_CONNECTION_INPUTS = [
  "vsphereHost",
  "vspherePort",
  "vsphereCredentialId",
  "vsphereSslCaCertificate",
  "vsphereSslFingerprint",
  "vsphereSslNoCheckHostname",
] as const;

export const VSPHERE_SOURCE_INPUTS = [
  ...VSPHERE_CONNECTION_INPUTS,
  "sourceVmName",
  "sourceVmPath",
  "sourceVmId",
  "sourceDiskName",
] as const;

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
