// The request fields that make a VM's disk on vCenter a job's input (IPS's vSphere export
// fields: the connection, then the source VM and disk), their checks, and how a running job
// opens that disk.

import { EngineError, FieldError } from "../errors";
import { checkVmDiskAccess, openVmDiskAtSnapshot, OpenedVmDisk, VsphereDiskRequest } from "../platforms/vsphere";
import { ProbeContext, RunContext, SubmitContext } from "./definition";
import { checkVsphereConnection, VSPHERE_CONNECTION_PROPERTIES, vsphereConnection, VsphereConnectionFields } from "./vsphere-connection";

export interface VsphereSourceFields extends VsphereConnectionFields {
  sourceVmName?: string;
  sourceVmPath?: string;
  sourceVmId?: string;
  sourceDiskName?: string;
}

export const VSPHERE_SOURCE_PROPERTIES = {
  ...VSPHERE_CONNECTION_PROPERTIES,
  vsphereHost: { ...VSPHERE_CONNECTION_PROPERTIES.vsphereHost, description: "vCenter (or ESXi) host name or address: the input is a VM's disk read from there, as of a snapshot the job takes and removes." },
  sourceVmName: { type: "string", minLength: 1, maxLength: 80, description: "The VM by name (must be unique)." },
  sourceVmPath: { type: "string", minLength: 1, maxLength: 1024, description: "The VM by inventory path, e.g. DC0/vm/golden/win11." },
  sourceVmId: { type: "string", pattern: "^[A-Za-z0-9_-]{1,80}$", description: "The VM by managed object id, e.g. vm-42." },
  sourceDiskName: { type: "string", minLength: 1, maxLength: 1024, description: "The disk: its label ('Hard disk 1') or backing file ('[ds] vm/vm.vmdk'); needed when the VM has more than one." },
};

const FIELDS = Object.keys(VSPHERE_SOURCE_PROPERTIES) as Array<keyof VsphereSourceFields>;
/** A request's file-input fields: absent with a vSphere input, the first two required otherwise. */
const FILE_INPUT_FIELDS = ["inputStorageLocation", "inputImageFilename", "inputImageFormat"];
const VM_SELECTORS = ["sourceVmName", "sourceVmPath", "sourceVmId"] as const;

/** True when the request reads its input from vCenter. */
export function readsFromVsphere(p: VsphereSourceFields): boolean {
  return p.vsphereHost !== undefined;
}

/** What the input is called in names and descriptions: its file name, or the VM. */
export function inputLabel(p: VsphereSourceFields & { inputImageFilename?: string }): string {
  return p.inputImageFilename ?? p.sourceVmName ?? p.sourceVmPath ?? p.sourceVmId ?? "disk";
}

/**
 * The submission checks of a job's input: a VM's disk on vCenter (vsphereHost), or a file on a
 * share, whose own checks `checkFile` makes once its two required fields are there.
 */
export async function checkDiskInput(
  p: VsphereSourceFields & Record<string, unknown>,
  ctx: SubmitContext,
  checkFile: () => Promise<FieldError[]>,
): Promise<FieldError[]> {
  if (readsFromVsphere(p)) return checkVsphereSource(p, ctx);
  const missing = FILE_INPUT_FIELDS.slice(0, 2)
    .filter((f) => p[f] === undefined)
    .map((field) => ({ field, message: "is required (or give vsphereHost and a source VM to read the disk from vCenter)" }));
  if (missing.length > 0) return missing;
  const misplaced = FIELDS.filter((f) => p[f] !== undefined).map((field) => ({ field, message: "applies only with vsphereHost (an input read from vCenter)" }));
  return [...misplaced, ...(await checkFile())];
}

async function checkVsphereSource(p: VsphereSourceFields & Record<string, unknown>, ctx: SubmitContext): Promise<FieldError[]> {
  const errors: FieldError[] = FILE_INPUT_FIELDS
    .filter((f) => p[f] !== undefined)
    .map((field) => ({ field, message: "must be left out when the input is a VM's disk on vCenter (vsphereHost)" }));
  const selectors = VM_SELECTORS.filter((f) => p[f] !== undefined);
  if (selectors.length !== 1) {
    errors.push({ field: "sourceVmName", message: `exactly one of ${VM_SELECTORS.join(", ")} names the VM${selectors.length ? `; got ${selectors.join(" and ")}` : ""}` });
  }
  errors.push(...(await checkVsphereConnection(p, ctx)));
  return errors;
}

function diskRequest(p: VsphereSourceFields, ctx: Pick<ProbeContext, "credential">): VsphereDiskRequest {
  return { connection: vsphereConnection(p, ctx), vm: { name: p.sourceVmName, path: p.sourceVmPath, id: p.sourceVmId }, disk: p.sourceDiskName };
}

/**
 * The dry run's check of a vSphere input: certificate, login, VM, disk and privileges, as the
 * job's first step makes them, without taking a snapshot. A problem names the field to fix.
 */
export async function probeVsphereSource(p: VsphereSourceFields, ctx: ProbeContext): Promise<FieldError[]> {
  if (!readsFromVsphere(p)) return [];
  try {
    await checkVmDiskAccess(diskRequest(p, ctx), ctx.signal);
    return [];
  } catch (error) {
    if (!(error instanceof EngineError)) throw error;
    return [{ field: probeField(error, p), message: `failed the dry run's check on vCenter (${error.code}): ${error.message}` }];
  }
}

function probeField(error: EngineError, p: VsphereSourceFields): string {
  if (error.code === "PLATFORM_ACCESS_DENIED") return "vsphereCredentialId";
  if (/sourceDiskName/.test(error.message)) return "sourceDiskName";
  if (error.code === "SOURCE_DISK_NOT_FOUND" || error.code === "PLATFORM_CHOICE_INVALID") return VM_SELECTORS.find((f) => p[f] !== undefined) ?? "sourceVmName";
  return "vsphereHost";
}

/**
 * Opens the VM's disk as of a fresh snapshot (the "snapshot" step); the caller must close() it,
 * which removes the snapshot in the "cleanup" step, or at once when the job was cancelled.
 */
export async function openVsphereSource(p: VsphereSourceFields, ctx: RunContext): Promise<OpenedVmDisk> {
  const disk = await ctx.step("snapshot", (progress) =>
    openVmDiskAtSnapshot(diskRequest(p, ctx), {
      jobId: ctx.jobId,
      signal: ctx.signal,
      workDir: ctx.workDir,
      // A disk read through an export lease is downloaded in this step.
      onProgress: progress,
      warn: (code, message) => ctx.warn(code, message),
    }),
  );
  // A cancelled job runs no more steps, but its snapshot must still go.
  const close = () => (ctx.signal.aborted ? disk.close() : ctx.step("cleanup", () => disk.close()));
  return { ...disk, close };
}
