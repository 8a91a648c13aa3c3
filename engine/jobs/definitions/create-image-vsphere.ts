// $createImage on vSphere: the master VM an MCS catalog on vSphere takes its image from. A disk
// from any source (a file on a share, e.g. an ExportJob's or PrepareJob's output) becomes the one
// disk of a new VM in the folder, resource pool and datastore the request names, with a snapshot
// (MCS copies a VM as of a snapshot: XDHyp:\HostingUnits\<unit>\<vm>.vm\<snapshot>.snapshot).
//
// Steps: `validate` (the input exists; log in, resolve the placement, check every privilege the
// job needs, no other VM of that name in the datacenter; one made by an earlier attempt of this
// job is removed), `fetch`, `convert` (the copier writes a streamOptimized VMDK in the work
// directory, verified against the source's block digest), `upload` (an NFC import lease:
// ImportVApp, PUT, complete; see platforms/vsphere/import.ts for why), `snapshot` (no memory, no
// quiescing). A failed or cancelled job aborts the lease and destroys the VM it made. The VM is
// tagged in its annotation (`imageport job <jobId>`), which is how a retry after an engine
// restart finds and replaces its earlier attempt's VM, and `$inspect`/`$delete {jobId}` check the
// VM by id and instanceUuid.

import { promises as fs } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { EngineError, FieldError, jobFailure } from "../../errors";
import { copyFromSource, DiskFormat } from "../../disk";
import { MiB, roundUp } from "../../disk/formats";
import { VsphereClient, VsphereConnection } from "../../platforms/vsphere/client";
import { vsphereCall, vsphereFailure } from "../../platforms/vsphere/failures";
import { importVm, IMPORT_PRIVILEGES, missingImportPrivileges } from "../../platforms/vsphere/import";
import { Placement, PlacementFields, resolvePlacement } from "../../platforms/vsphere/placement";
import { MoRef, SoapFault, text } from "../../platforms/vsphere/soap";
import { destroyVm, jobTag, madeByJob, vmsNamed } from "../../platforms/vsphere/vm-lifecycle";
import { ProbeContext, RunContext, StepPlan, SubmitContext } from "../definition";
import { inputProperties } from "../schemas";
import { checkInputFormat, checkLocalInputExists, checkStorageFields, LocationParam } from "../storage-fields";
import { checkFileInput, fetchFileInput, fileInputUri } from "../upload-input";
import { checkVsphereConnection, VSPHERE_CONNECTION_PROPERTIES, vsphereConnection, VsphereConnectionFields } from "../vsphere-connection";

export interface VsphereImageFields extends VsphereConnectionFields {
  inputStorageLocation?: LocationParam;
  inputImageFilename?: string;
  inputImageFormat?: DiskFormat;
  vsphereDatacenter?: string;
  vsphereDatastore?: string;
  vsphereFolder?: string;
  vsphereResourcePool?: string;
  guestId?: string;
  numCpus?: number;
  memoryMB?: number;
  snapshotName?: string;
}

export interface VsphereImageParams extends VsphereImageFields {
  imageName: string;
  tags?: Record<string, string>;
}

/** What a complete vsphere createImage job records (additionalInfo.artifacts). */
export interface VsphereImageArtifacts {
  platform: "vsphere";
  /** host:port of vCenter. */
  vcenter: string;
  /** The datacenter's inventory path. */
  datacenter: string;
  /** The VM's managed object id (vm-42): what MCS's master image is. */
  imageId: string;
  imageName: string;
  vmId: string;
  instanceUuid?: string;
  /** The snapshot's managed object id (snapshot-43) and name. */
  snapshotId: string;
  snapshotName: string;
  /** The disk as of the snapshot: "[datastore] vm/vm.vmdk". */
  datastorePath: string;
  folder: string;
  resourcePool: string;
  /** The input file's URI. */
  sourceId: string;
  blockDigest: string;
  virtualSizeBytes: number;
  sourceVirtualSizeBytes: number;
  /** Bytes of the streamOptimized VMDK sent to vCenter (the data, deflated). */
  bytesUploaded: number;
  cloudResources: Array<{ kind: "vm"; id: string; name: string; instanceUuid?: string }>;
}

export const DEFAULT_GUEST_ID = "windows9_64Guest";
export const DEFAULT_SNAPSHOT_NAME = "imageport";
const DEFAULT_CPUS = 2;
const DEFAULT_MEMORY_MB = 4096;
/** vSphere names (VMs, snapshots): at most 80 characters; / \ % are escaped by vSphere and break MCS paths. */
const VSPHERE_NAME = /^[^\x00-\x1f\x7f/\\%]{1,80}$/;

export const VSPHERE_IMAGE_PROPERTIES = {
  ...inputProperties,
  ...VSPHERE_CONNECTION_PROPERTIES,
  vsphereHost: { ...VSPHERE_CONNECTION_PROPERTIES.vsphereHost, description: "vsphere (required): vCenter (or ESXi) host name or address, where the VM is made." },
  vsphereDatacenter: { type: "string", minLength: 1, maxLength: 1024, description: "vsphere: the datacenter (name or inventory path); default: the only one." },
  vsphereDatastore: { type: "string", minLength: 1, maxLength: 255, description: "vsphere (required): the datastore (name) that holds the VM and its disk." },
  vsphereFolder: { type: "string", minLength: 1, maxLength: 1024, description: "vsphere: the VM folder, an inventory path (DC0/vm/golden, or golden under the datacenter's vm folder); default: the datacenter's vm folder." },
  vsphereResourcePool: {
    type: "string",
    minLength: 1,
    maxLength: 1024,
    description: "vsphere: the resource pool, cluster or host, an inventory path (DC0/host/cluster/Resources/pool, or cluster); default: the root pool of the first cluster (by name), else of the first host.",
  },
  guestId: { type: "string", pattern: "^[A-Za-z0-9_]{1,64}$", description: `vsphere: the VM's guest OS identifier (vim.vm.GuestOsDescriptor.GuestOsIdentifier); default ${DEFAULT_GUEST_ID}.` },
  numCpus: { type: "integer", minimum: 1, maximum: 768, description: `vsphere: virtual CPUs (in one socket); default ${DEFAULT_CPUS}.` },
  memoryMB: { type: "integer", minimum: 4, maximum: 25165824, description: `vsphere: memory in MiB, a multiple of 4; default ${DEFAULT_MEMORY_MB}.` },
  snapshotName: { type: "string", minLength: 1, maxLength: 80, description: `vsphere: the name of the snapshot MCS copies the VM as of; default ${DEFAULT_SNAPSHOT_NAME}.` },
};

/** Every request field only the vsphere platform takes. */
export const VSPHERE_IMAGE_FIELDS = Object.keys(VSPHERE_IMAGE_PROPERTIES) as Array<keyof VsphereImageFields>;

const PLACEMENT_FIELDS: PlacementFields = { datacenter: "vsphereDatacenter", datastore: "vsphereDatastore", folder: "vsphereFolder", resourcePool: "vsphereResourcePool" };

export const VSPHERE_IMAGE_STEPS: StepPlan[] = [
  { name: "validate", weight: 5 },
  { name: "fetch", weight: 5 },
  { name: "convert", weight: 35 },
  { name: "upload", weight: 50 },
  { name: "snapshot", weight: 5 },
];

/** Submission checks of the vsphere fields (the caller refuses the other platforms' fields). */
export async function checkVsphereImageFields(p: VsphereImageParams & { platformCredentialId?: string }, ctx: SubmitContext): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (p.platformCredentialId !== undefined) {
    errors.push({ field: "platformCredentialId", message: "applies to aws and azure; for vsphere, vCenter's credential is vsphereCredentialId" });
  }
  const missing = (["inputStorageLocation", "inputImageFilename", "vsphereDatastore"] as const).filter((f) => p[f] === undefined);
  for (const field of missing) errors.push({ field, message: "is required for platform vsphere" });
  if (p.inputStorageLocation !== undefined && p.inputImageFilename !== undefined) {
    errors.push(
      ...(await checkStorageFields("input", p.inputStorageLocation, p.inputImageFilename, ctx)),
      ...checkInputFormat(p.inputImageFilename, p.inputImageFormat),
      ...checkLocalInputExists(p.inputStorageLocation, p.inputImageFilename, ctx),
    );
  }
  errors.push(...(await checkVsphereConnection(p, ctx)));
  if (!VSPHERE_NAME.test(p.imageName) || p.imageName.trim() !== p.imageName) {
    errors.push({ field: "imageName", message: "must be a vSphere VM name: 1..80 characters without / \\ % or control characters, no leading or trailing spaces" });
  }
  if (p.snapshotName !== undefined && (!VSPHERE_NAME.test(p.snapshotName) || p.snapshotName.trim() !== p.snapshotName)) {
    errors.push({ field: "snapshotName", message: "must be a vSphere snapshot name: 1..80 characters without / \\ % or control characters, no leading or trailing spaces" });
  }
  if (p.memoryMB !== undefined && p.memoryMB % 4 !== 0) errors.push({ field: "memoryMB", message: `must be a multiple of 4 (vSphere's rule); got ${p.memoryMB}` });
  return errors;
}

export async function runVsphereImage(p: VsphereImageParams, ctx: RunContext): Promise<void> {
  const { signal, jobId, workDir } = ctx;
  const connection = vsphereConnection(p, ctx);
  const address = `${connection.host}:${connection.port}`;
  const file = { inputStorageLocation: p.inputStorageLocation!, inputImageFilename: p.inputImageFilename!, inputImageFormat: p.inputImageFormat };
  const snapshotName = p.snapshotName ?? DEFAULT_SNAPSHOT_NAME;
  const sourceId = fileInputUri(file, ctx);

  const placement = await ctx.step("validate", async () => {
    await checkFileInput(file, ctx);
    return withSession(connection, signal, (client) => checkPlacement(client, p, jobId, signal));
  });

  const vmdk = join(workDir, "image-stream.vmdk");
  const input = await fetchFileInput(file, ctx);
  let copied;
  let sourceVirtualSize: number;
  try {
    ({ copied, sourceVirtualSize } = await ctx.step("convert", async (progress) => {
      const source = await input.source();
      // vSphere sizes disks in KB and ESXi allocates whole MiB: the disk grows to one (never shrinks).
      const copied = await copyFromSource(source, {
        target: { path: vmdk, format: "vmdk", subformat: "streamOptimized" },
        size: roundUp(source.virtualSize, MiB),
        workDir,
        signal,
        onProgress: progress,
      });
      return { copied, sourceVirtualSize: source.virtualSize };
    }));
  } finally {
    await input.close();
  }

  const client = new VsphereClient(connection);
  let vm: MoRef | undefined;
  let importStarted = false;
  let completed = false;
  try {
    await vsphereCall(address, "log in", () => client.login(signal));
    const imported = await ctx.step("upload", async (progress) => {
      // Someone may have made a VM of that name while the disk was converted.
      await clearName(client, placement, p.imageName, jobId, signal);
      importStarted = true;
      return vsphereCall(address, `import the VM '${p.imageName}'`, () =>
        importVm(
          client,
          {
            name: p.imageName,
            annotation: annotation(jobId, sourceId, p.tags),
            guestId: p.guestId ?? DEFAULT_GUEST_ID,
            numCpus: p.numCpus ?? DEFAULT_CPUS,
            memoryMB: p.memoryMB ?? DEFAULT_MEMORY_MB,
            capacityBytes: copied.virtualSize,
            pool: placement.pool.ref,
            folder: placement.folder.ref,
            datastore: placement.datastore,
          },
          { file: vmdk, signal, onVm: (ref) => (vm = ref), onProgress: progress },
        ),
      );
    });
    vm = imported.vm;
    const taken = await ctx.step("snapshot", () =>
      vsphereCall(address, `snapshot the VM '${p.imageName}'`, async () => {
        const snapshot = await client.createSnapshot(imported.vm, snapshotName, `Taken by imageport job ${jobId}: the state MCS copies the VM as of.`, signal);
        const [disk] = await client.snapshotDisks(snapshot, signal);
        const instanceUuid = text((await client.properties(imported.vm, ["config.instanceUuid"], signal))["config.instanceUuid"]);
        return { snapshot, disk, instanceUuid };
      }),
    );
    const artifacts: VsphereImageArtifacts = {
      platform: "vsphere",
      vcenter: address,
      datacenter: placement.datacenter.path,
      imageId: imported.vm.value,
      imageName: p.imageName,
      vmId: imported.vm.value,
      ...(taken.instanceUuid ? { instanceUuid: taken.instanceUuid } : {}),
      snapshotId: taken.snapshot.value,
      snapshotName,
      datastorePath: taken.disk?.fileName ?? "",
      folder: placement.folder.path,
      resourcePool: placement.pool.path,
      sourceId,
      blockDigest: copied.blockDigest,
      virtualSizeBytes: copied.virtualSize,
      sourceVirtualSizeBytes: sourceVirtualSize,
      bytesUploaded: imported.bytesSent,
      cloudResources: [{ kind: "vm", id: imported.vm.value, name: p.imageName, ...(taken.instanceUuid ? { instanceUuid: taken.instanceUuid } : {}) }],
    };
    ctx.setArtifacts({ ...artifacts });
    completed = true;
  } finally {
    if (!completed && importStarted) await removeMadeVm(client, vm, placement, p.imageName, jobId, ctx);
    await client.logout();
    await fs.rm(vmdk, { force: true });
  }
}

/**
 * The checks before anything is made: where the VM goes, the account's privileges there, and
 * its name free in the datacenter (a VM this job made in an earlier attempt is destroyed; a dry
 * run, which has no job yet, only looks).
 */
async function checkPlacement(client: VsphereClient, p: VsphereImageParams, jobId: string | undefined, signal: AbortSignal): Promise<Placement> {
  const address = client.address;
  const request = { datacenter: p.vsphereDatacenter, datastore: p.vsphereDatastore!, folder: p.vsphereFolder, resourcePool: p.vsphereResourcePool };
  const where = await vsphereCall(address, "find where the VM goes", () => resolvePlacement(client, request, PLACEMENT_FIELDS, signal));
  const missing = await vsphereCall(address, "check the account's privileges", () => missingImportPrivileges(client, where, signal));
  if (missing.length > 0) {
    const role = [...new Set(Object.values(IMPORT_PRIVILEGES).flat())].sort().join(", ");
    throw jobFailure(
      "PLATFORM_ACCESS_DENIED",
      `The account of vsphereCredentialId lacks ${missing.join(", ")}, which making the image VM needs. Grant them (a role with ${role}) and run the job again. Nothing was changed in vCenter.`,
    );
  }
  await clearName(client, where, p.imageName, jobId, signal);
  return where;
}

/** `?dryRun=true`: the validate step's checks on vCenter, changing nothing; a problem names the field to fix. */
export async function probeVsphereImage(p: VsphereImageParams, ctx: ProbeContext): Promise<FieldError[]> {
  try {
    await withSession(vsphereConnection(p, ctx), ctx.signal, (client) => checkPlacement(client, p, undefined, ctx.signal));
    return [];
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    const named = Object.values(PLACEMENT_FIELDS).find((f) => error.message.includes(`field ${f}`) || error.message.includes(`(${f})`));
    const field =
      error.code === "PLATFORM_ACCESS_DENIED" ? "vsphereCredentialId" : error.code === "OUTPUT_EXISTS" ? "imageName" : named ?? "vsphereHost";
    return [{ field, message: `failed the dry run's check on vCenter (${error.code}): ${error.message}` }];
  }
}

/** The VM's notes: the job tag first (how a retry and a reader recognise it), then where the disk came from and the tags. */
function annotation(jobId: string, sourceId: string, tags: Record<string, string> | undefined): string {
  const lines = [jobTag(jobId), `Made by imageport from ${sourceId}.`, ...Object.entries(tags ?? {}).map(([k, v]) => `${k}: ${v}`)];
  return lines.join("\n");
}

/** No other VM may have the name; one an earlier attempt of this job made is destroyed. */
async function clearName(client: VsphereClient, placement: Placement, name: string, jobId: string | undefined, signal: AbortSignal): Promise<void> {
  const address = client.address;
  const existing = await vsphereCall(address, "look for VMs of that name", () => vmsNamed(client, placement.datacenter.ref, name, signal));
  const others = existing.filter((v) => jobId === undefined || !madeByJob(v, jobId));
  if (others.length > 0) {
    throw jobFailure(
      "OUTPUT_EXISTS",
      `A VM named '${name}' already exists in datacenter '${placement.datacenter.name}' on vCenter ${address} (${others.map((v) => v.ref.value).join(", ")}); it was left untouched. ` +
        `Choose another imageName, or remove that VM.`,
    );
  }
  for (const own of existing) await vsphereCall(address, `remove the VM '${name}' an earlier attempt of this job made`, () => destroyLeftover(client, own.ref, signal));
}

/** vCenter's answers while a VM is held by a task, e.g. the import lease of an attempt that was killed. */
const BUSY_FAULTS = new Set(["TaskInProgress", "InvalidState"]);
/** An orphaned import lease expires after its timeout (300 s by default) and vCenter then removes its VM. */
const LEFTOVER_WAIT_MS = 6 * 60_000;

/** Destroys a VM an earlier attempt made, waiting while vCenter still holds it for that attempt's lease. */
async function destroyLeftover(client: VsphereClient, vm: MoRef, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + LEFTOVER_WAIT_MS;
  for (;;) {
    try {
      await destroyVm(client, vm, signal);
      return;
    } catch (error) {
      if (!(error instanceof SoapFault && BUSY_FAULTS.has(error.faultName)) || Date.now() > deadline) throw error;
      await sleep(10_000, undefined, { signal });
    }
  }
}

/** After a failure or cancel: the VM the import made (or, not yet named by the lease, one of that name with this job's tag) is destroyed. */
async function removeMadeVm(client: VsphereClient, vm: MoRef | undefined, placement: Placement, name: string, jobId: string, ctx: RunContext): Promise<void> {
  const signal = AbortSignal.timeout(120_000);
  try {
    const refs = vm ? [vm] : (await vmsNamed(client, placement.datacenter.ref, name, signal)).filter((v) => madeByJob(v, ctx.jobId)).map((v) => v.ref);
    for (const ref of refs) await destroyVm(client, ref, signal);
  } catch (error) {
    ctx.warn(
      "CLOUD_CLEANUP_FAILED",
      `The VM '${name}'${vm ? ` (${vm.value})` : ""} this job made could not be removed (${vsphereFailure("remove it", client.address, error).message}); delete it in vCenter (its notes say 'imageport job ${jobId}').`,
    );
  }
}

async function withSession<T>(connection: VsphereConnection, signal: AbortSignal, fn: (client: VsphereClient) => Promise<T>): Promise<T> {
  const client = new VsphereClient(connection);
  try {
    await vsphereCall(client.address, "log in", () => client.login(signal));
    return await fn(client);
  } finally {
    await client.logout();
  }
}

