// Where a new VM goes in vCenter's inventory, from what a request names: the datacenter (default:
// the only one), the datastore (by name, in that datacenter, mounted where the VM will run), the
// VM folder (an inventory path; default the datacenter's vm folder) and the resource pool (an
// inventory path of a pool, cluster or host; default the root pool of the first cluster, else of
// the first standalone host, by name). Each miss is a coded failure naming the request field and
// listing what exists, so the user can correct it without opening the vSphere client.

import { jobFailure } from "../../errors";
import { VsphereClient } from "./client";
import { MoRef, moRefList, stringList, text, toMoRef } from "./soap";

export interface PlacementRequest {
  /** Name or inventory path of the datacenter; default: the only one. */
  datacenter?: string;
  /** Datastore name. */
  datastore: string;
  /** Inventory path of a VM folder ("DC0/vm/golden", or "golden" under the datacenter's vm folder). */
  folder?: string;
  /** Inventory path of a resource pool, cluster or host ("DC0/host/DC0_C0/Resources", or "DC0_C0"). */
  resourcePool?: string;
}

export interface Placement {
  datacenter: { ref: MoRef; name: string; /** its inventory path, as /folder's dcPath takes it */ path: string };
  datastore: { ref: MoRef; name: string };
  folder: { ref: MoRef; path: string };
  pool: { ref: MoRef; path: string };
}

/** Field names of the request, for messages. */
export interface PlacementFields {
  datacenter: string;
  datastore: string;
  folder: string;
  resourcePool: string;
}

export async function resolvePlacement(client: VsphereClient, request: PlacementRequest, fields: PlacementFields, signal: AbortSignal): Promise<Placement> {
  const datacenter = await findDatacenter(client, request.datacenter, fields.datacenter, signal);
  const dc = await client.properties(datacenter.ref, ["vmFolder", "hostFolder", "datastore"], signal);
  const datastore = await findDatastore(client, datacenter, moRefList(dc["datastore"]), request.datastore, fields.datastore, signal);
  const folder = await findFolder(client, datacenter, toMoRef(dc["vmFolder"]), request.folder, fields.folder, signal);
  const pool = await findPool(client, datacenter, toMoRef(dc["hostFolder"]), request.resourcePool, fields.resourcePool, signal);
  // vCenter places the VM on a host of the pool's cluster (or the pool's host): it must see the datastore.
  const owner = toMoRef((await client.properties(pool.ref, ["owner"], signal))["owner"]);
  const ownerProps = await client.properties(owner, ["name", "datastore"], signal);
  if (!moRefList(ownerProps["datastore"]).some((d) => d.value === datastore.ref.value)) {
    throw jobFailure(
      "PLATFORM_CHOICE_INVALID",
      `The datastore '${datastore.name}' (${fields.datastore}) is not mounted on the hosts of '${text(ownerProps["name"])}', where ${fields.resourcePool} '${pool.path}' runs VMs. ` +
        `Choose a datastore those hosts see, or another resource pool.`,
    );
  }
  return { datacenter, datastore, folder, pool };
}

async function findDatacenter(client: VsphereClient, wanted: string | undefined, field: string, signal: AbortSignal): Promise<Placement["datacenter"]> {
  const all = await client.listInContainer(undefined, "Datacenter", ["name"], signal);
  const names = all.map((d) => text(d.props["name"]) ?? d.obj.value);
  let ref: MoRef | undefined;
  if (wanted === undefined) {
    if (all.length !== 1) {
      throw jobFailure(
        all.length === 0 ? "PLATFORM_NOT_FOUND" : "PLATFORM_CHOICE_INVALID",
        all.length === 0
          ? `vCenter ${client.address} has no datacenter to put the VM in.`
          : `vCenter ${client.address} has ${all.length} datacenters (${names.join(", ")}); name one with ${field}.`,
      );
    }
    ref = all[0]!.obj;
  } else {
    const byPath = await client.findByInventoryPath(wanted.replace(/^\/+|\/+$/g, ""), signal);
    ref = byPath?.type === "Datacenter" ? byPath : all.find((d) => text(d.props["name"]) === wanted)?.obj;
    if (!ref) {
      throw jobFailure("PLATFORM_NOT_FOUND", `No datacenter '${wanted}' exists on vCenter ${client.address} (field ${field}). Its datacenters: ${names.join(", ") || "none"}.`);
    }
  }
  const name = text((await client.properties(ref, ["name"], signal))["name"]) ?? ref.value;
  return { ref, name, path: await client.datacenterPath(ref, signal) };
}

async function findDatastore(
  client: VsphereClient,
  datacenter: Placement["datacenter"],
  refs: MoRef[],
  wanted: string,
  field: string,
  signal: AbortSignal,
): Promise<Placement["datastore"]> {
  const found: Array<{ ref: MoRef; name: string; accessible: boolean }> = [];
  for (const ref of refs) {
    const p = await client.properties(ref, ["name", "summary.accessible"], signal);
    found.push({ ref, name: text(p["name"]) ?? ref.value, accessible: text(p["summary.accessible"]) !== "false" });
  }
  const match = found.find((d) => d.name === wanted);
  if (!match) {
    throw jobFailure(
      "PLATFORM_NOT_FOUND",
      `No datastore '${wanted}' exists in datacenter '${datacenter.name}' on vCenter ${client.address} (field ${field}). Its datastores: ${found.map((d) => d.name).join(", ") || "none"}.`,
    );
  }
  if (!match.accessible) {
    throw jobFailure("PLATFORM_REQUEST_FAILED", `The datastore '${wanted}' (${field}) is not accessible on vCenter ${client.address}; check it in the vSphere client or choose another.`);
  }
  return { ref: match.ref, name: match.name };
}

/** Inventory paths tried for a name: as given, then under the datacenter's `sub` folder. */
function candidates(datacenter: Placement["datacenter"], sub: "vm" | "host", wanted: string): string[] {
  const path = wanted.replace(/^\/+|\/+$/g, "");
  const under = `${datacenter.path}/${sub}/${path}`;
  return path.startsWith(`${datacenter.path}/`) ? [path] : [path, under];
}

async function findFolder(
  client: VsphereClient,
  datacenter: Placement["datacenter"],
  vmFolder: MoRef,
  wanted: string | undefined,
  field: string,
  signal: AbortSignal,
): Promise<Placement["folder"]> {
  if (wanted === undefined) return { ref: vmFolder, path: `${datacenter.path}/vm` };
  for (const path of candidates(datacenter, "vm", wanted)) {
    const ref = await client.findByInventoryPath(path, signal);
    if (ref?.type !== "Folder") continue;
    const childTypes = stringList((await client.properties(ref, ["childType"], signal))["childType"]);
    if (!childTypes.includes("VirtualMachine")) {
      throw jobFailure("PLATFORM_CHOICE_INVALID", `'${path}' (field ${field}) is a folder for ${childTypes.join(", ") || "nothing"}, not for VMs. Give a folder under '${datacenter.path}/vm'.`);
    }
    if ((await client.datacenterPath(ref, signal)) !== datacenter.path) continue;
    return { ref, path };
  }
  throw jobFailure(
    "PLATFORM_NOT_FOUND",
    `No VM folder '${wanted}' exists in datacenter '${datacenter.name}' on vCenter ${client.address} (field ${field}). ` +
      `Give its inventory path, e.g. '${datacenter.path}/vm/golden', or leave ${field} out for the datacenter's vm folder.`,
  );
}

const COMPUTE_TYPES = new Set(["ComputeResource", "ClusterComputeResource"]);

async function findPool(
  client: VsphereClient,
  datacenter: Placement["datacenter"],
  hostFolder: MoRef,
  wanted: string | undefined,
  field: string,
  signal: AbortSignal,
): Promise<Placement["pool"]> {
  if (wanted === undefined) {
    const computes = await client.listInContainer(hostFolder, "ComputeResource", ["name", "resourcePool"], signal);
    const byName = (a: (typeof computes)[number], b: (typeof computes)[number]) => String(text(a.props["name"])).localeCompare(String(text(b.props["name"])));
    const first = [...computes.filter((c) => c.obj.type === "ClusterComputeResource").sort(byName), ...computes.filter((c) => c.obj.type !== "ClusterComputeResource").sort(byName)][0];
    if (!first?.props["resourcePool"]) throw jobFailure("PLATFORM_NOT_FOUND", `Datacenter '${datacenter.name}' on vCenter ${client.address} has no cluster or host to run the VM; add one, or name a resource pool with ${field}.`);
    return { ref: toMoRef(first.props["resourcePool"]), path: `${datacenter.path}/host/${text(first.props["name"])}/Resources` };
  }
  for (const path of candidates(datacenter, "host", wanted)) {
    const ref = await client.findByInventoryPath(path, signal);
    if (!ref) continue;
    if (ref.type === "VirtualApp") {
      throw jobFailure("PLATFORM_CHOICE_INVALID", `'${path}' (field ${field}) is a vApp; imageport puts the VM in a resource pool of a cluster or host. Name one of those.`);
    }
    let pool: MoRef | undefined;
    if (ref.type === "ResourcePool") pool = ref;
    else if (COMPUTE_TYPES.has(ref.type)) pool = toMoRef((await client.properties(ref, ["resourcePool"], signal))["resourcePool"]);
    if (!pool || (await client.datacenterPath(ref, signal)) !== datacenter.path) continue;
    return { ref: pool, path: COMPUTE_TYPES.has(ref.type) ? `${path}/Resources` : path };
  }
  throw jobFailure(
    "PLATFORM_NOT_FOUND",
    `No resource pool, cluster or host '${wanted}' exists in datacenter '${datacenter.name}' on vCenter ${client.address} (field ${field}). ` +
      `Give its inventory path, e.g. '${datacenter.path}/host/<cluster>/Resources/<pool>' or '<cluster>', or leave ${field} out for the first cluster's root pool.`,
  );
}

