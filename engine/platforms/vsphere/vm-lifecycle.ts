// The VMs imageport makes in vCenter: found by name in a datacenter, recognised by the line
// `imageport job <jobId>` in their annotation (the notes vSphere shows), described and destroyed
// by managed object id, the id checked against the VM's instanceUuid first so that a reused id
// (a reinstalled vCenter) never names someone else's VM.

import { VsphereClient } from "./client";
import { asArray, MoRef, SoapFault, text, toMoRef, XmlNode } from "./soap";

export interface VmIdentity {
  ref: MoRef;
  name: string;
  annotation: string;
  instanceUuid?: string;
  powerState?: string;
}

const IDENTITY_PATHS = ["name", "config.annotation", "config.instanceUuid", "runtime.powerState"];

/** The annotation line that marks a VM as made by a job. */
export function jobTag(jobId: string): string {
  return `imageport job ${jobId}`;
}

export function madeByJob(vm: VmIdentity, jobId: string): boolean {
  return vm.annotation.split(/\r?\n/).some((line) => line.trim() === jobTag(jobId));
}

function identity(ref: MoRef, props: Record<string, unknown>): VmIdentity {
  const vm: VmIdentity = { ref, name: text(props["name"]) ?? ref.value, annotation: text(props["config.annotation"]) ?? "" };
  const uuid = text(props["config.instanceUuid"]);
  const power = text(props["runtime.powerState"]);
  if (uuid) vm.instanceUuid = uuid;
  if (power) vm.powerState = power;
  return vm;
}

/** The VMs named `name` under `container` (a datacenter or folder), wherever they are below it. */
export async function vmsNamed(client: VsphereClient, container: MoRef, name: string, signal: AbortSignal): Promise<VmIdentity[]> {
  const all = await client.listInContainer(container, "VirtualMachine", IDENTITY_PATHS, signal);
  return all.filter((v) => text(v.props["name"]) === name).map((v) => identity(v.obj, v.props));
}

/** The VM with this id, if it exists and (when given) still has this instanceUuid. */
export async function findVm(client: VsphereClient, id: string, instanceUuid: string | undefined, signal: AbortSignal): Promise<VmIdentity | undefined> {
  const ref = { type: "VirtualMachine", value: id };
  try {
    const vm = identity(ref, await client.properties(ref, IDENTITY_PATHS, signal));
    return instanceUuid === undefined || vm.instanceUuid === instanceUuid ? vm : undefined;
  } catch (error) {
    if (error instanceof SoapFault && error.faultName === "ManagedObjectNotFound") return undefined;
    throw error;
  }
}

/** Destroy_Task: the VM and every disk it owns. False when it was already gone. */
export async function destroyVm(client: VsphereClient, ref: MoRef, signal: AbortSignal): Promise<boolean> {
  try {
    const response = await client.transport.call("Destroy_Task", ref, {}, signal);
    await client.waitForTask(toMoRef(asArray(response["returnval"] as XmlNode[])[0]), signal);
    return true;
  } catch (error) {
    if (error instanceof SoapFault && error.faultName === "ManagedObjectNotFound") return false;
    throw error;
  }
}
