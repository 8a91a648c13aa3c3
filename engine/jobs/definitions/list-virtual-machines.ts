// $listVirtualMachines (an imageport addition, the catalog AWS SMS imported from vCenter): the
// VMs of a vCenter with their disks. A job like any other, because only a connector next to
// vCenter can reach it; what a program reads through the provider's getVirtualMachines.

import { listVirtualMachines } from "../../platforms/vsphere";
import { JobDefinition } from "../definition";
import { commonProperties, objectSchema } from "../schemas";
import { checkVsphereConnection, VSPHERE_CONNECTION_PROPERTIES, vsphereConnection, VsphereConnectionFields } from "../vsphere-connection";

export type ListVirtualMachinesParams = VsphereConnectionFields;

export const listVirtualMachinesJob: JobDefinition<ListVirtualMachinesParams> = {
  type: "listVirtualMachines",
  summary: "List a vCenter's VMs with their disks (id, guest OS, power state, disk sizes, changed-block tracking)",
  body: objectSchema({ resourceLocationId: commonProperties.resourceLocationId, clientToken: commonProperties.clientToken, timeout: commonProperties.timeout, ...VSPHERE_CONNECTION_PROPERTIES }, ["vsphereHost", "vsphereCredentialId"]),
  validate: checkVsphereConnection,
  steps: () => [{ name: "list", weight: 1 }],
  async run(p, ctx) {
    const virtualMachines = await ctx.step("list", () => listVirtualMachines(vsphereConnection(p, ctx), ctx.signal));
    ctx.setArtifacts({ vcenter: `${p.vsphereHost}:${p.vspherePort ?? 443}`, virtualMachines });
  },
};
