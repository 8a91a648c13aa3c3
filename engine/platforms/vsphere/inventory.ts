// The VMs of a vCenter with their disks, as one PropertyCollector read over a ContainerView
// (what a program needs to pick a VM by name: id, guest OS, power state, disks, CBT on/off).

import { toVmSummary, VM_PATHS, VsphereClient, VsphereConnection } from "./client";
import { vsphereFailure } from "./failures";

export interface VirtualMachineEntry {
  /** Managed object id, e.g. vm-42 (what sourceVmId takes). */
  id: string;
  name: string;
  guestFullName?: string;
  powerState?: string;
  changeTrackingEnabled: boolean;
  disks: Array<{ label: string; fileName: string; capacityBytes: number; thinProvisioned: boolean; key: number }>;
}

export async function listVirtualMachines(connection: VsphereConnection, signal: AbortSignal): Promise<VirtualMachineEntry[]> {
  const client = new VsphereClient(connection);
  try {
    await client.login(signal);
    const found = await client.listVms(VM_PATHS, signal);
    return found
      .map(({ obj, props }) => {
        const vm = toVmSummary(obj, props);
        const entry: VirtualMachineEntry = {
          id: obj.value,
          name: vm.name,
          changeTrackingEnabled: vm.changeTrackingEnabled,
          disks: vm.disks.map((d) => ({ label: d.label, fileName: d.fileName, capacityBytes: d.capacityBytes, thinProvisioned: d.thinProvisioned, key: d.key })),
        };
        if (vm.guestFullName) entry.guestFullName = vm.guestFullName;
        if (vm.powerState) entry.powerState = vm.powerState;
        return entry;
      })
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  } catch (error) {
    throw vsphereFailure("list the VMs", client.address, error);
  } finally {
    await client.logout();
  }
}
