// $inspect / $delete {jobId} of a vsphere createImage job: the VM it made, reached with the
// vCenter connection fields and credential that job used. A VM is the job's only if its id still
// names a VM with the instanceUuid recorded when it was made; otherwise it is reported gone and
// nothing is destroyed. Destroying the VM removes its disks and snapshots with it.

import { FieldError, jobFailure } from "../../errors";
import { VsphereClient } from "../../platforms/vsphere/client";
import { vsphereFailure } from "../../platforms/vsphere/failures";
import { destroyVm, findVm } from "../../platforms/vsphere/vm-lifecycle";
import { RunContext } from "../definition";
import { vsphereConnection, VsphereConnectionFields } from "../vsphere-connection";
import type { CloudArtifactParams, CloudOps, CloudResourceRef } from "./artifact-files";

const CONNECTION_FIELDS = ["vsphereHost", "vspherePort", "vsphereCredentialId", "vsphereSslCaCertificate", "vsphereSslFingerprint", "vsphereSslNoCheckHostname"] as const;

/** The connection fields a createImage job was given, to reach the same vCenter again. */
export function vsphereConnectionOf(params: Record<string, unknown>): VsphereConnectionFields {
  return Object.fromEntries(CONNECTION_FIELDS.filter((k) => params[k] !== undefined).map((k) => [k, params[k]])) as VsphereConnectionFields;
}

/** The VMs a complete vsphere createImage job recorded, or undefined when they are unusable. */
export function vsphereRefs(artifacts: Record<string, unknown>): CloudResourceRef[] | undefined {
  const refs = Array.isArray(artifacts.cloudResources) ? (artifacts.cloudResources as Array<Record<string, unknown>>) : [];
  if (refs.length === 0 || !refs.every((r) => r.kind === "vm" && typeof r.id === "string")) return undefined;
  return refs.map((r) => ({
    kind: "vm",
    id: String(r.id),
    ...(typeof r.name === "string" ? { name: r.name } : {}),
    ...(typeof r.instanceUuid === "string" ? { instanceUuid: r.instanceUuid } : {}),
  }));
}

export function vsphereCredentialProblem(p: CloudArtifactParams, type: string | undefined): FieldError[] {
  if (type === undefined) {
    return [{ field: "jobId", message: `names job '${p.jobId}', whose vsphereCredentialId '${p.vsphereCredentialId}' no longer exists; create that UsernamePassword credential again` }];
  }
  if (type !== "UsernamePassword") return [{ field: "jobId", message: `names job '${p.jobId}', whose vsphereCredentialId '${p.vsphereCredentialId}' is now of type ${type}, not UsernamePassword` }];
  return [];
}

export function openVsphereOps(p: CloudArtifactParams, ctx: RunContext): CloudOps {
  const client = new VsphereClient(vsphereConnection(p, ctx));
  const where = `vCenter ${client.address}`;
  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (error) {
      throw vsphereFailure(what, client.address, error);
    }
  };
  return {
    where,
    // Logging in proves the address, the certificate and the credential.
    probe: (signal) => call("log in", () => client.login(signal)),
    async describe(ref, signal) {
      const vm = await call(`look for the VM ${ref.id}`, () => findVm(client, ref.id, ref.instanceUuid, signal));
      return vm ? { exists: true, ...(vm.powerState ? { state: vm.powerState } : {}) } : { exists: false };
    },
    async remove(ref, signal) {
      const vm = await call(`look for the VM ${ref.id}`, () => findVm(client, ref.id, ref.instanceUuid, signal));
      if (!vm) return false;
      if (vm.powerState === "poweredOn") {
        throw jobFailure("PLATFORM_REQUEST_FAILED", `The VM '${vm.name}' (${ref.id}) on ${where} is powered on; power it off and delete again (imageport never destroys a running VM).`);
      }
      return call(`destroy the VM '${vm.name}' (${ref.id})`, () => destroyVm(client, vm.ref, signal));
    },
    order: (refs) => refs,
    close: () => void client.logout(),
  };
}
