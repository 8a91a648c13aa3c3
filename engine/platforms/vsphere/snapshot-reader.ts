// A VM's disk read as of a snapshot the job takes itself: log in, find the VM and the disk,
// check the account's privileges, remove what an earlier attempt of the same job left (its
// snapshot is named after the job), snapshot the VM without memory, and expose the disk as it
// was at that moment. close() removes the snapshot and logs out, after success, failure or
// cancel; the VM is otherwise never changed.
//
// Two ways to read it, chosen per disk: a flat disk (no parent in the snapshot's backing, a
// descriptor of FLAT/VMFS/ZERO extents) is streamed from the datastore with ranged GETs and
// nothing is copied (disk-source.ts); a disk that is a delta of a snapshot chain (backing.parent,
// or a descriptor with parentCID or sparse/delta extents) is downloaded through an NFC export
// lease on the job's snapshot (export-lease.ts), as a streamOptimized VMDK in the work directory
// (a local copy of the compressed data only), then read as a local image.

import { promises as fs } from "node:fs";
import { jobFailure } from "../../errors";
import { openImageSource } from "../../disk/image-source";
import { DiskSource } from "../../disk/source";
import { VirtualDiskInfo, VmSummary, VsphereClient, VsphereConnection } from "./client";
import { DatastoreFiles, formatDatastorePath, parseDatastorePath } from "./datastore";
import { openVsphereDisk } from "./disk-source";
import { downloadSnapshotDisk } from "./export-lease";
import { vsphereCall, vsphereFailure } from "./failures";
import { classifyDescriptor } from "./vmdk-descriptor";
import { MoRef, text, toMoRef } from "./soap";

/** Exactly one of name, inventory path or managed object id. */
export interface VmSelector {
  name?: string;
  path?: string;
  id?: string;
}

export interface VsphereDiskRequest {
  connection: VsphereConnection;
  vm: VmSelector;
  /** The disk's label ("Hard disk 1") or backing file ("[ds] vm/disk.vmdk"); needed when the VM has several. */
  disk?: string;
}

/** Privileges on the VM a snapshot export needs (the AWS SMS connector's set, less vApp export). */
export const SNAPSHOT_PRIVILEGES = ["VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot"];
/** Privileges on the datastore: reading the disk files through /folder. */
export const DATASTORE_PRIVILEGES = ["Datastore.Browse"];
/** Optional: reading changed-block tracking areas (without it, the whole disk is read and zeros skipped). */
export const CBT_PRIVILEGE = "VirtualMachine.Provisioning.DiskRandomRead";
/** On the VM, only for a disk read through an export lease (a delta of a snapshot chain): ExportSnapshot. */
export const EXPORT_PRIVILEGE = "VApp.Export";

const DESCRIPTOR_LIMIT = 64 * 1024;

export interface OpenedVmDisk {
  source: DiskSource;
  vm: VmSummary;
  disk: VirtualDiskInfo;
  snapshotName: string;
  /** Removes the snapshot and ends the session; safe to call twice. */
  close(): Promise<void>;
}

export interface OpenOptions {
  jobId: string;
  signal: AbortSignal;
  /** Scratch space: a disk read through an export lease is downloaded there. */
  workDir: string;
  /** Fraction of the export lease's download done (the flat path reads nothing here). */
  onProgress?(fraction: number): void;
  warn(code: string, message: string): void;
  /** Called once the snapshot exists (for the job's record). */
  onSnapshot?(name: string): void;
}

export function snapshotNameFor(jobId: string): string {
  return `imageport-${jobId}`;
}

export async function openVmDiskAtSnapshot(request: VsphereDiskRequest, options: OpenOptions): Promise<OpenedVmDisk> {
  const { signal, jobId } = options;
  const client = new VsphereClient(request.connection);
  const address = client.address;
  const snapshotName = snapshotNameFor(jobId);
  let snapshot: MoRef | undefined;
  let vm: VmSummary | undefined;
  let closed = false;
  let local: DiskSource | undefined;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await local?.close();
    } catch {
      // the work directory goes with the job anyway
    }
    try {
      if (snapshot) await client.removeSnapshot(snapshot, AbortSignal.timeout(120_000));
    } catch (error) {
      options.warn(
        "SNAPSHOT_CLEANUP_FAILED",
        `The snapshot '${snapshotName}' this job took of VM '${vm?.name}' could not be removed (${vsphereFailure("remove the snapshot", address, error).message}); delete it in vCenter.`,
      );
    } finally {
      await client.logout();
    }
  };
  try {
    await vsphereCall(address, "log in", () => client.login(signal));
    vm = await vsphereCall(address, "find the VM", () => findVm(client, request.vm, signal));
    const disk = pickDisk(vm, request.disk, address);
    const files = new DatastoreFiles(client.transport, await vsphereCall(address, "find the VM's datacenter", () => client.datacenterPath(vm!.ref, signal)), address);
    const checked = await checkPrivileges(client, vm, disk, address, signal);
    // An earlier attempt of this job (before an engine restart) may have left its snapshot.
    for (const stale of (await vsphereCall(address, "list the VM's snapshots", () => client.snapshots(vm!.ref, signal))).filter((s) => s.name === snapshotName)) {
      await vsphereCall(address, "remove the snapshot an earlier attempt left", () => client.removeSnapshot(stale.ref, signal));
    }
    snapshot = await vsphereCall(address, `snapshot VM '${vm.name}'`, () =>
      client.createSnapshot(vm!.ref, snapshotName, `Taken by imageport job ${jobId} to read the disk consistently; removed when the job ends.`, signal),
    );
    options.onSnapshot?.(snapshotName);
    const atSnapshot = (await vsphereCall(address, "read the snapshot's disks", () => client.snapshotDisks(snapshot!, signal))).find((d) => d.key === disk.key);
    if (!atSnapshot) throw jobFailure("PLATFORM_REQUEST_FAILED", `The snapshot of VM '${vm.name}' does not list the disk '${disk.label}' (key ${disk.key}).`);
    const file = parseDatastorePath(atSnapshot.fileName);
    if (!file) throw jobFailure("SOURCE_DISK_UNREADABLE", `The disk '${disk.label}' of VM '${vm.name}' has the backing '${atSnapshot.fileName}', which is not a datastore path.`);
    // A chain is read through an export lease; a flat disk's descriptor is read once, here.
    const descriptor = atSnapshot.hasParent ? undefined : await vsphereCall(address, `open ${formatDatastorePath(file)}`, () => files.readSmall(file, DESCRIPTOR_LIMIT, signal));
    if (descriptor === undefined || classifyDescriptor(descriptor) === "delta") {
      if (!checked.exportChecked) await requirePrivileges(client, vm, [EXPORT_PRIVILEGE], address, signal);
      const download = await vsphereCall(address, `export the disk '${disk.label}' of VM '${vm.name}' as of the snapshot`, () =>
        downloadSnapshotDisk(client, { snapshot: snapshot!, vmName: vm!.name, disk: atSnapshot, workDir: options.workDir, signal, onProgress: options.onProgress }),
      );
      try {
        // streamOptimized is compressed: image-source.ts expands it to a sparse raw file (data only).
        local = await openImageSource(download.path, "vmdk", options.workDir, signal);
      } finally {
        // The expansion is what is read from now on.
        await fs.rm(download.path, { force: true }).catch(() => undefined);
      }
      const image = local;
      const name = `${formatDatastorePath(file)} on ${address} (through an export lease)`;
      if (image.virtualSize !== atSnapshot.capacityBytes) {
        throw jobFailure(
          "SOURCE_DISK_UNREADABLE",
          `vCenter ${address} exported ${image.virtualSize} bytes of the disk '${disk.label}' of VM '${vm.name}', which is ${atSnapshot.capacityBytes} bytes; try again once no resize is under way.`,
        );
      }
      const leased: DiskSource = {
        name,
        virtualSize: image.virtualSize,
        /** Bytes downloaded from vCenter (the compressed stream), not bytes read from the local copy. */
        bytesRead: download.bytes,
        dataRanges: (s) => image.dataRanges(s),
        read: (offset, length, s) => image.read(offset, length, s),
        close,
      };
      return { source: leased, vm, disk: atSnapshot, snapshotName, close };
    }
    const changeTracking = vm.changeTrackingEnabled && atSnapshot.changeId !== undefined && (await canReadChangedAreas(client, vm, signal));
    if (vm.changeTrackingEnabled && !changeTracking) {
      options.warn(
        "CHANGE_TRACKING_UNUSED",
        `VM '${vm.name}' tracks changed blocks, but the snapshot gave no changeId or the account lacks ${CBT_PRIVILEGE}: the whole disk is read and its zero blocks skipped.`,
      );
    }
    const source = await vsphereCall(address, `open ${formatDatastorePath(file)}`, () =>
      openVsphereDisk(client, files, { vm: vm!.ref, snapshot: snapshot!, deviceKey: disk.key, file, capacityBytes: atSnapshot.capacityBytes, changeTracking }, signal, descriptor),
    );
    const wrapped: DiskSource = {
      name: source.name,
      virtualSize: source.virtualSize,
      get bytesRead() {
        return source.bytesRead;
      },
      dataRanges: (s) => vsphereCall(address, "ask for the disk's allocated areas", () => source.dataRanges(s)),
      read: (offset, length, s) => vsphereCall(address, "read the disk", () => source.read(offset, length, s)),
      close,
    };
    return { source: wrapped, vm, disk: atSnapshot, snapshotName, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/**
 * What a dry run can know without changing anything in vCenter: the certificate and login
 * work, the VM and disk exist, and the account holds the privileges (the job's first checks,
 * without the snapshot). Resolves with the optional privileges missing (reading CBT areas).
 */
export async function checkVmDiskAccess(request: VsphereDiskRequest, signal: AbortSignal): Promise<{ vm: string; disk: string; optionalMissing: string[] }> {
  const client = new VsphereClient(request.connection);
  const address = client.address;
  try {
    await vsphereCall(address, "log in", () => client.login(signal));
    const vm = await vsphereCall(address, "find the VM", () => findVm(client, request.vm, signal));
    const disk = pickDisk(vm, request.disk, address);
    await checkPrivileges(client, vm, disk, address, signal);
    const optionalMissing = vm.changeTrackingEnabled && !(await canReadChangedAreas(client, vm, signal)) ? [CBT_PRIVILEGE] : [];
    return { vm: vm.name, disk: disk.label, optionalMissing };
  } finally {
    await client.logout();
  }
}

async function findVm(client: VsphereClient, selector: VmSelector, signal: AbortSignal): Promise<VmSummary> {
  if (selector.id !== undefined) {
    const ref = { type: "VirtualMachine", value: selector.id };
    try {
      return await client.vmSummary(ref, signal);
    } catch (error) {
      if ((error as { faultName?: string }).faultName === "ManagedObjectNotFound") throw vmNotFound(`with id '${selector.id}'`, "sourceVmId", client.address);
      throw error;
    }
  }
  if (selector.path !== undefined) {
    const ref = await client.findByInventoryPath(selector.path, signal);
    if (!ref || ref.type !== "VirtualMachine") throw vmNotFound(`at '${selector.path}'`, "sourceVmPath", client.address);
    return client.vmSummary(ref, signal);
  }
  const matches = (await client.listVms(["name"], signal)).filter((v) => text(v.props["name"]) === selector.name);
  if (matches.length === 0) throw vmNotFound(`named '${selector.name}'`, "sourceVmName", client.address);
  if (matches.length > 1) {
    throw jobFailure(
      "PLATFORM_CHOICE_INVALID",
      `${matches.length} VMs on vCenter ${client.address} are named '${selector.name}' (${matches.map((m) => m.obj.value).join(", ")}). Name one with sourceVmId or sourceVmPath.`,
    );
  }
  return client.vmSummary(matches[0]!.obj, signal);
}

function vmNotFound(what: string, field: string, address: string) {
  return jobFailure("SOURCE_DISK_NOT_FOUND", `No VM ${what} exists on vCenter ${address}. Check ${field} (imageport's getVirtualMachines lists the VMs).`);
}

function pickDisk(vm: VmSummary, wanted: string | undefined, address: string): VirtualDiskInfo {
  const list = vm.disks.map((d) => `'${d.label}' (${d.fileName})`).join(", ") || "none";
  if (wanted === undefined) {
    if (vm.disks.length === 1) return vm.disks[0]!;
    throw jobFailure(
      vm.disks.length === 0 ? "SOURCE_DISK_NOT_FOUND" : "PLATFORM_CHOICE_INVALID",
      vm.disks.length === 0
        ? `VM '${vm.name}' on vCenter ${address} has no virtual disk.`
        : `VM '${vm.name}' has ${vm.disks.length} disks: ${list}. Name one with sourceDiskName.`,
    );
  }
  const disk = vm.disks.find((d) => d.label === wanted || d.fileName === wanted || String(d.key) === wanted);
  if (!disk) throw jobFailure("SOURCE_DISK_NOT_FOUND", `VM '${vm.name}' on vCenter ${address} has no disk '${wanted}'. Its disks: ${list}. Check sourceDiskName.`);
  return disk;
}

/**
 * Fails naming every privilege the account lacks, before anything is changed in vCenter:
 * the snapshot's on the VM, Datastore.Browse on its datastore, and VApp.Export on the VM when
 * the disk is a delta of a snapshot chain (read through an export lease).
 */
async function checkPrivileges(
  client: VsphereClient,
  vm: VmSummary,
  disk: VirtualDiskInfo,
  address: string,
  signal: AbortSignal,
): Promise<{ exportChecked: boolean }> {
  const missing = await vsphereCall(address, "check the account's privileges", () => client.missingPrivileges(vm.ref, SNAPSHOT_PRIVILEGES, signal));
  const datastore = await vsphereCall(address, "find the disk's datastore", () => datastoreOf(client, vm, disk, signal));
  if (datastore) missing.push(...(await vsphereCall(address, "check the account's privileges", () => client.missingPrivileges(datastore, DATASTORE_PRIVILEGES, signal))));
  // The current disk tells whether the snapshot's will be a delta: vCenter reports a delta's
  // parent, and a chain stays a chain. (A descriptor that says so without a parent in the
  // backing is caught after the snapshot, and VApp.Export checked then.)
  const viaLease = disk.hasParent;
  if (viaLease) missing.push(...(await vsphereCall(address, "check the account's privileges", () => client.missingPrivileges(vm.ref, [EXPORT_PRIVILEGE], signal))));
  if (missing.length > 0) throw accessDenied(vm, missing, viaLease);
  return { exportChecked: viaLease };
}

async function requirePrivileges(client: VsphereClient, vm: VmSummary, onVm: string[], address: string, signal: AbortSignal): Promise<void> {
  const missing = await vsphereCall(address, "check the account's privileges", () => client.missingPrivileges(vm.ref, onVm, signal));
  if (missing.length > 0) throw accessDenied(vm, missing, true);
}

function accessDenied(vm: VmSummary, missing: string[], viaLease: boolean) {
  return jobFailure(
    "PLATFORM_ACCESS_DENIED",
    `The account of vsphereCredentialId lacks ${missing.join(", ")} on VM '${vm.name}' or its datastore, which exporting its disk needs` +
      `${viaLease ? ` (the disk is a delta of a snapshot chain, read through an export lease: ${EXPORT_PRIVILEGE})` : ""}. ` +
      `Grant them (a role with Datastore.Browse, VirtualMachine.State.CreateSnapshot, VirtualMachine.State.RemoveSnapshot` +
      `${viaLease ? ` and ${EXPORT_PRIVILEGE}` : ""}) and run the job again.`,
  );
}


async function canReadChangedAreas(client: VsphereClient, vm: VmSummary, signal: AbortSignal): Promise<boolean> {
  return (await vsphereCall(client.address, "check the account's privileges", () => client.missingPrivileges(vm.ref, [CBT_PRIVILEGE], signal))).length === 0;
}

async function datastoreOf(client: VsphereClient, vm: VmSummary, disk: VirtualDiskInfo, signal: AbortSignal): Promise<MoRef | undefined> {
  const wanted = parseDatastorePath(disk.fileName)?.datastore;
  const p = await client.properties(vm.ref, ["datastore"], signal);
  const refs = ((p["datastore"] as Record<string, unknown> | undefined)?.["ManagedObjectReference"] as unknown[] | undefined) ?? [];
  for (const node of refs) {
    const ref = toMoRef(node);
    const props = await client.properties(ref, ["name"], signal);
    if (text(props["name"]) === wanted) return ref;
  }
  return undefined;
}
