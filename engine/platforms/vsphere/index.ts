// engine/platforms/vsphere: vCenter as a source (a VM's disk read as of a snapshot). Re-exports only.

export { VsphereClient } from "./client";
export type { VirtualDiskInfo, VmSummary, VsphereConnection } from "./client";
export { normalizeFingerprint } from "./tls";
export type { VsphereTlsOptions } from "./tls";
export { checkVmDiskAccess, openVmDiskAtSnapshot, snapshotNameFor, SNAPSHOT_PRIVILEGES, DATASTORE_PRIVILEGES, CBT_PRIVILEGE, EXPORT_PRIVILEGE } from "./snapshot-reader";
export type { OpenedVmDisk, VmSelector, VsphereDiskRequest } from "./snapshot-reader";
export { vsphereCall, vsphereFailure } from "./failures";
export { listVirtualMachines } from "./inventory";
export type { VirtualMachineEntry } from "./inventory";
