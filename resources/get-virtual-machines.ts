import * as pulumi from "@pulumi/pulumi";

export interface GetVirtualMachinesArgs {
  /** vCenter (or ESXi) host name or address. */
  vsphereHost: string;
  /** vCenter's HTTPS port (default 443). */
  vspherePort?: number;
  /** A `UsernamePassword` Credential for vCenter. */
  vsphereCredentialId: string;
  /** PEM of the CA that issued vCenter's certificate; default: the system CAs. */
  vsphereSslCaCertificate?: string;
  /** Trust exactly the certificate with this SHA-1 or SHA-256 fingerprint. */
  vsphereSslFingerprint?: string;
  /** Accept a certificate issued for another name (its chain is still verified). */
  vsphereSslNoCheckHostname?: boolean;
  /** The resource location whose connector reaches vCenter (default `local`). */
  resourceLocationId?: string;
}

export interface VirtualMachineDisk {
  key: number;
  /** `Hard disk 1`: what `sourceDiskName` takes. */
  label: string;
  /** `[datastore] folder/name.vmdk` */
  fileName: string;
  capacityBytes: number;
  thinProvisioned: boolean;
}

export interface VirtualMachine {
  /** `vm-42`: what `sourceVmId` takes. */
  id: string;
  name: string;
  guestFullName?: string;
  powerState?: string;
  /** Changed-block tracking is on: an export reads only the allocated areas. */
  changeTrackingEnabled: boolean;
  disks: VirtualMachineDisk[];
}

export interface GetVirtualMachinesResult {
  /** Sorted by name. */
  virtualMachines: VirtualMachine[];
}

const TOKEN = "imageport:index:getVirtualMachines";

/** The VMs of a vCenter with their disks, so a program can pick the VM an ExportJob or UploadJob reads by name. */
export function getVirtualMachines(args: GetVirtualMachinesArgs, opts?: pulumi.InvokeOptions): Promise<GetVirtualMachinesResult> {
  return pulumi.runtime.invoke(TOKEN, { ...args }, opts);
}

/** getVirtualMachines with inputs that may be outputs of other resources. */
export function getVirtualMachinesOutput(
  args: { [K in keyof GetVirtualMachinesArgs]: pulumi.Input<GetVirtualMachinesArgs[K]> },
  opts?: pulumi.InvokeOutputOptions,
): pulumi.Output<GetVirtualMachinesResult> {
  return pulumi.runtime.invokeOutput<GetVirtualMachinesResult>(TOKEN, { ...args }, opts);
}
