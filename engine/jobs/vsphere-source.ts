// The request fields that make a VM's disk on vCenter a job's input (IPS's vSphere export
// fields: host, port, the SSL options, the vCenter credential, the source disk), their checks,
// and how a running job opens that disk.

import { X509Certificate } from "node:crypto";
import { FieldError } from "../errors";
import { normalizeFingerprint, openVmDiskAtSnapshot, OpenedVmDisk } from "../platforms/vsphere";
import { CREDENTIAL_ID_PATTERN } from "../api/schemas/credentials";
import { RunContext, SubmitContext } from "./definition";

export interface VsphereSourceFields {
  vsphereHost?: string;
  vspherePort?: number;
  vsphereCredentialId?: string;
  vsphereSslCaCertificate?: string;
  vsphereSslFingerprint?: string;
  vsphereSslNoCheckHostname?: boolean;
  sourceVmName?: string;
  sourceVmPath?: string;
  sourceVmId?: string;
  sourceDiskName?: string;
}

export const VSPHERE_SOURCE_PROPERTIES = {
  vsphereHost: { type: "string", pattern: "^[A-Za-z0-9.:\\[\\]-]{1,253}$", description: "vCenter (or ESXi) host name or address: the input is a VM's disk read from there, as of a snapshot the job takes and removes." },
  vspherePort: { type: "integer", minimum: 1, maximum: 65535, description: "Default 443." },
  vsphereCredentialId: { type: "string", pattern: CREDENTIAL_ID_PATTERN, description: "A UsernamePassword credential for vCenter (domain, if set, is appended as user@domain)." },
  vsphereSslCaCertificate: { type: "string", maxLength: 65536, description: "PEM of the CA that issued vCenter's certificate (e.g. its VMCA root); default: the system CAs." },
  vsphereSslFingerprint: { type: "string", maxLength: 128, description: "Trust exactly the certificate with this SHA-1 or SHA-256 fingerprint (hex, colons allowed)." },
  vsphereSslNoCheckHostname: { type: "boolean", description: "Accept a certificate issued for another name (its chain is still verified); default false." },
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
  if (p.vsphereCredentialId === undefined) {
    errors.push({ field: "vsphereCredentialId", message: "is required with vsphereHost: the id of a UsernamePassword credential for vCenter" });
  } else {
    const type = await ctx.credentialType(p.vsphereCredentialId);
    if (type === undefined) errors.push({ field: "vsphereCredentialId", message: `names credential '${p.vsphereCredentialId}', which does not exist; create it with POST /ips/credentials` });
    else if (type !== "UsernamePassword") errors.push({ field: "vsphereCredentialId", message: `must name a UsernamePassword credential; '${p.vsphereCredentialId}' is of type ${type}` });
  }
  if (p.vsphereSslFingerprint !== undefined && normalizeFingerprint(p.vsphereSslFingerprint) === undefined) {
    errors.push({ field: "vsphereSslFingerprint", message: "is not a SHA-1 or SHA-256 fingerprint: 40 or 64 hex digits, colons allowed" });
  }
  if (p.vsphereSslCaCertificate !== undefined && !parsesAsCertificate(p.vsphereSslCaCertificate)) {
    errors.push({ field: "vsphereSslCaCertificate", message: "is not a PEM certificate ('-----BEGIN CERTIFICATE-----' ...)" });
  }
  if (p.vsphereSslFingerprint !== undefined && (p.vsphereSslCaCertificate !== undefined || p.vsphereSslNoCheckHostname !== undefined)) {
    errors.push({ field: "vsphereSslFingerprint", message: "pins one certificate and cannot be combined with vsphereSslCaCertificate or vsphereSslNoCheckHostname; give one way to trust vCenter" });
  }
  return errors;
}

function parsesAsCertificate(pem: string): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the VM's disk as of a fresh snapshot (the "snapshot" step); the caller must close() it,
 * which removes the snapshot in the "cleanup" step, or at once when the job was cancelled.
 */
export async function openVsphereSource(p: VsphereSourceFields, ctx: RunContext): Promise<OpenedVmDisk> {
  const credential = ctx.credential(p.vsphereCredentialId!);
  const { username, password, domain } = credential.fields as { username: string; password: string; domain?: string };
  const disk = await ctx.step("snapshot", () =>
    openVmDiskAtSnapshot(
      {
        connection: {
          host: p.vsphereHost!,
          port: p.vspherePort ?? 443,
          username: domain && !/[@\\]/.test(username) ? `${username}@${domain}` : username,
          password,
          tls: { caCertificate: p.vsphereSslCaCertificate, fingerprint: p.vsphereSslFingerprint, noCheckHostname: p.vsphereSslNoCheckHostname },
        },
        vm: { name: p.sourceVmName, path: p.sourceVmPath, id: p.sourceVmId },
        disk: p.sourceDiskName,
      },
      { jobId: ctx.jobId, signal: ctx.signal, warn: (code, message) => ctx.warn(code, message) },
    ),
  );
  // A cancelled job runs no more steps, but its snapshot must still go.
  const close = () => (ctx.signal.aborted ? disk.close() : ctx.step("cleanup", () => disk.close()));
  return { ...disk, close };
}
