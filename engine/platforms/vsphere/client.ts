// The vSphere calls imageport makes, on one authenticated session: inventory lookups through
// the PropertyCollector, a VM's virtual disks, snapshots (tasks waited on with backoff),
// changed-block tracking areas, privilege checks and datastore file reads through /folder.

import { setTimeout as sleep } from "node:timers/promises";
import { asArray, MoRef, moRefXml, SoapFault, SoapTransport, text, toMoRef, XmlNode } from "./soap";
import { vsphereAgent, VsphereTlsOptions } from "./tls";

export interface VsphereConnection {
  host: string;
  port: number;
  username: string;
  password: string;
  tls: VsphereTlsOptions;
}

interface ServiceContent {
  rootFolder: MoRef;
  propertyCollector: MoRef;
  sessionManager: MoRef;
  searchIndex: MoRef;
  viewManager: MoRef;
  authorizationManager: MoRef;
  apiVersion: string;
}

export interface VirtualDiskInfo {
  key: number;
  label: string;
  /** "[datastore] folder/name.vmdk" */
  fileName: string;
  capacityBytes: number;
  thinProvisioned: boolean;
  /** persistent, independent_persistent, ... */
  diskMode: string;
  changeId?: string;
  /** The backing has a parent: the disk is a delta (the VM had snapshots). */
  hasParent: boolean;
  /** "<controller type><bus>:<unit>" ("VirtualLsiLogicController0:0"): how export leases name the disk's device. */
  slot?: string;
}

export interface VmSummary {
  ref: MoRef;
  name: string;
  guestFullName?: string;
  powerState?: string;
  changeTrackingEnabled: boolean;
  disks: VirtualDiskInfo[];
}

export interface SnapshotRef {
  ref: MoRef;
  name: string;
}

export interface ChangedAreas {
  startOffset: number;
  length: number;
  areas: Array<{ start: number; length: number }>;
}

const SERVICE_INSTANCE: MoRef = { type: "ServiceInstance", value: "ServiceInstance" };
const CALL_TIMEOUT_MS = 60_000;

export class VsphereClient {
  readonly transport: SoapTransport;
  readonly address: string;
  private content: ServiceContent | undefined;
  private loggedIn = false;

  constructor(readonly connection: VsphereConnection) {
    this.address = `${connection.host}:${connection.port}`;
    const host = connection.host.includes(":") ? `[${connection.host}]` : connection.host;
    this.transport = new SoapTransport({
      origin: `https://${host}:${connection.port}`,
      agent: vsphereAgent(this.address, connection.tls),
      timeoutMs: CALL_TIMEOUT_MS,
    });
  }

  /** RetrieveServiceContent, then Login. The TLS check runs on the first connection, before any credential is sent. */
  async login(signal: AbortSignal): Promise<void> {
    const content = await this.serviceContent(signal);
    await this.transport.call("Login", content.sessionManager, { userName: this.connection.username, password: this.connection.password }, signal);
    this.loggedIn = true;
  }

  /** Ends the session (best effort, bounded), and closes idle connections. */
  async logout(): Promise<void> {
    try {
      if (this.loggedIn && this.content) await this.transport.call("Logout", this.content.sessionManager, {}, AbortSignal.timeout(10_000));
    } catch {
      // the session expires on its own
    } finally {
      this.loggedIn = false;
      this.transport.forgetSession();
      this.transport.options.agent.destroy();
    }
  }

  async serviceContent(signal: AbortSignal): Promise<ServiceContent> {
    if (this.content) return this.content;
    const response = await this.transport.call("RetrieveServiceContent", SERVICE_INSTANCE, {}, signal);
    const r = asArray(response["returnval"] as XmlNode[])[0]!;
    const ref = (k: string) => toMoRef(r[k]);
    this.content = {
      rootFolder: ref("rootFolder"),
      propertyCollector: ref("propertyCollector"),
      sessionManager: ref("sessionManager"),
      searchIndex: ref("searchIndex"),
      viewManager: ref("viewManager"),
      authorizationManager: ref("authorizationManager"),
      apiVersion: text((r["about"] as XmlNode)?.["apiVersion"]) ?? "",
    };
    return this.content;
  }

  /** Properties of one object; a ManagedObjectNotFound fault when it does not exist. */
  async properties(obj: MoRef, paths: string[], signal: AbortSignal): Promise<Record<string, unknown>> {
    const [found] = await this.retrieve([{ type: obj.type, pathSet: paths }], { obj: moRefXml(obj) }, signal);
    return found?.props ?? {};
  }

  /** RetrievePropertiesEx with one object spec (continued while a token is returned). */
  async retrieve(
    propSet: Array<{ type: string; pathSet: string[] }>,
    objectSet: XmlNode,
    signal: AbortSignal,
  ): Promise<Array<{ obj: MoRef; props: Record<string, unknown> }>> {
    const { propertyCollector } = await this.serviceContent(signal);
    const out: Array<{ obj: MoRef; props: Record<string, unknown> }> = [];
    let response = await this.transport.call(
      "RetrievePropertiesEx",
      propertyCollector,
      { specSet: { propSet: propSet.map((p) => ({ type: p.type, pathSet: p.pathSet })), objectSet }, options: {} },
      signal,
    );
    for (let page = 0; page < 10_000; page++) {
      const result = asArray(response["returnval"] as XmlNode[])[0];
      for (const o of asArray(result?.["objects"] as XmlNode[])) {
        const props: Record<string, unknown> = {};
        for (const p of asArray(o["propSet"] as XmlNode[])) props[String(text(p["name"]))] = p["val"];
        const missing = asArray(o["missingSet"] as XmlNode[])[0];
        if (missing) throw toMissingFault(missing);
        out.push({ obj: toMoRef(o["obj"]), props });
      }
      const token = text(result?.["token"]);
      if (!token) break;
      response = await this.transport.call("ContinueRetrievePropertiesEx", propertyCollector, { token }, signal);
    }
    return out;
  }

  /** Every VM's properties `paths`, through a ContainerView over the whole inventory. */
  async listVms(paths: string[], signal: AbortSignal): Promise<Array<{ obj: MoRef; props: Record<string, unknown> }>> {
    return this.listInContainer(undefined, "VirtualMachine", paths, signal);
  }

  /**
   * Every object of `type` (and its subtypes) under `container` (default: the whole inventory),
   * with the properties `paths`, through a ContainerView.
   */
  async listInContainer(container: MoRef | undefined, type: string, paths: string[], signal: AbortSignal): Promise<Array<{ obj: MoRef; props: Record<string, unknown> }>> {
    const content = await this.serviceContent(signal);
    const created = await this.transport.call(
      "CreateContainerView",
      content.viewManager,
      { container: moRefXml(container ?? content.rootFolder), type, recursive: true },
      signal,
    );
    const view = toMoRef(asArray(created["returnval"] as XmlNode[])[0]);
    try {
      return await this.retrieve(
        [{ type, pathSet: paths }],
        {
          obj: moRefXml(view),
          skip: true,
          selectSet: { "@_xsi:type": "TraversalSpec", name: "view", type: "ContainerView", path: "view", skip: false },
        },
        signal,
      );
    } finally {
      await this.transport.call("DestroyView", view, {}, AbortSignal.timeout(10_000)).catch(() => undefined);
    }
  }

  /** SearchIndex.FindByInventoryPath: "DC0/vm/folder/name"; undefined when nothing is there. */
  async findByInventoryPath(path: string, signal: AbortSignal): Promise<MoRef | undefined> {
    const { searchIndex } = await this.serviceContent(signal);
    const response = await this.transport.call("FindByInventoryPath", searchIndex, { inventoryPath: path }, signal);
    const found = asArray(response["returnval"] as XmlNode[])[0];
    return found ? toMoRef(found) : undefined;
  }

  async vmSummary(ref: MoRef, signal: AbortSignal): Promise<VmSummary> {
    const p = await this.properties(ref, VM_PATHS, signal);
    return toVmSummary(ref, p);
  }

  /** The virtual disks a snapshot captured (its own view of the backing files). */
  async snapshotDisks(snapshot: MoRef, signal: AbortSignal): Promise<VirtualDiskInfo[]> {
    const p = await this.properties(snapshot, ["config.hardware.device"], signal);
    return disksOf(p["config.hardware.device"]);
  }

  /** The VM's snapshots, flattened (name and reference). */
  async snapshots(vm: MoRef, signal: AbortSignal): Promise<SnapshotRef[]> {
    const p = await this.properties(vm, ["snapshot"], signal);
    const out: SnapshotRef[] = [];
    const walk = (list: unknown) => {
      for (const s of asArray(list as XmlNode[])) {
        out.push({ ref: toMoRef(s["snapshot"]), name: text(s["name"]) ?? "" });
        walk(s["childSnapshotList"]);
      }
    };
    walk((p["snapshot"] as XmlNode | undefined)?.["rootSnapshotList"]);
    return out;
  }

  /** A snapshot of disks only (no memory, no quiescing), waited for. */
  async createSnapshot(vm: MoRef, name: string, description: string, signal: AbortSignal): Promise<MoRef> {
    const response = await this.transport.call("CreateSnapshot_Task", vm, { name, description, memory: false, quiesce: false }, signal);
    const result = await this.waitForTask(toMoRef(asArray(response["returnval"] as XmlNode[])[0]), signal);
    return toMoRef(result);
  }

  async removeSnapshot(snapshot: MoRef, signal: AbortSignal): Promise<void> {
    const response = await this.transport.call("RemoveSnapshot_Task", snapshot, { removeChildren: false, consolidate: true }, signal);
    await this.waitForTask(toMoRef(asArray(response["returnval"] as XmlNode[])[0]), signal);
  }

  /** One page of QueryChangedDiskAreas (vSphere answers for a span; continue after it). */
  async changedDiskAreas(vm: MoRef, snapshot: MoRef, deviceKey: number, startOffset: number, changeId: string, signal: AbortSignal): Promise<ChangedAreas> {
    const response = await this.transport.call(
      "QueryChangedDiskAreas",
      vm,
      { snapshot: moRefXml(snapshot), deviceKey, startOffset, changeId },
      signal,
    );
    const r = asArray(response["returnval"] as XmlNode[])[0] ?? {};
    return {
      startOffset: Number(text(r["startOffset"]) ?? startOffset),
      length: Number(text(r["length"]) ?? 0),
      areas: asArray(r["changedArea"] as XmlNode[]).map((a) => ({ start: Number(text(a["start"])), length: Number(text(a["length"])) })),
    };
  }

  /** The privileges of `wanted` this session lacks on `entity` (AuthorizationManager.HasPrivilegeOnEntities). */
  async missingPrivileges(entity: MoRef, wanted: string[], signal: AbortSignal): Promise<string[]> {
    const content = await this.serviceContent(signal);
    const session = await this.properties(content.sessionManager, ["currentSession"], signal);
    const sessionId = text((session["currentSession"] as XmlNode | undefined)?.["key"]) ?? "";
    const response = await this.transport.call(
      "HasPrivilegeOnEntities",
      content.authorizationManager,
      { entity: moRefXml(entity), sessionId, privId: wanted },
      signal,
    );
    const result = asArray(response["returnval"] as XmlNode[])[0];
    const granted = new Set(
      asArray(result?.["privAvailability"] as XmlNode[])
        .filter((a) => text(a["isGranted"]) === "true")
        .map((a) => text(a["privId"])),
    );
    return wanted.filter((p) => !granted.has(p));
  }

  /** The inventory path of the datacenter holding `obj` ("DC0", "Folder/DC1"): /folder needs it. */
  async datacenterPath(obj: MoRef, signal: AbortSignal): Promise<string> {
    let current: MoRef | undefined = obj;
    let inDatacenter = false;
    const names: string[] = [];
    for (let depth = 0; current && depth < 64; depth++) {
      const p = await this.properties(current, ["name", "parent"], signal);
      if (current.type === "Datacenter") inDatacenter = true;
      if (inDatacenter) names.unshift(text(p["name"]) ?? "");
      current = p["parent"] ? toMoRef(p["parent"]) : undefined;
    }
    // The root folder ("Datacenters") is not part of the path.
    return names.slice(1).join("/");
  }

  /** Waits for a task with backoff (0.2 s doubling to 2 s); its result, or its fault thrown. */
  async waitForTask(task: MoRef, signal: AbortSignal): Promise<unknown> {
    let delay = 200;
    for (;;) {
      const p = await this.properties(task, ["info.state", "info.result", "info.error"], signal);
      const state = text(p["info.state"]);
      if (state === "success") return p["info.result"];
      if (state === "error") {
        const error = (p["info.error"] as XmlNode | undefined) ?? {};
        const fault = (error["fault"] as XmlNode | undefined) ?? {};
        throw new SoapFault(String(fault["@_xsiType"] ?? "TaskFailed"), text(error["localizedMessage"]) ?? "task failed", fault);
      }
      await sleep(delay * (0.5 + Math.random() / 2), undefined, { signal });
      delay = Math.min(delay * 2, 2000);
    }
  }
}

const VM_PATHS = ["name", "config.guestFullName", "runtime.powerState", "config.changeTrackingEnabled", "config.hardware.device"];

export { VM_PATHS };

export function toVmSummary(ref: MoRef, p: Record<string, unknown>): VmSummary {
  return {
    ref,
    name: text(p["name"]) ?? ref.value,
    guestFullName: text(p["config.guestFullName"]),
    powerState: text(p["runtime.powerState"]),
    changeTrackingEnabled: text(p["config.changeTrackingEnabled"]) === "true",
    disks: disksOf(p["config.hardware.device"]),
  };
}

function disksOf(devices: unknown): VirtualDiskInfo[] {
  const list = asArray(((devices as XmlNode | undefined)?.["VirtualDevice"] ?? devices) as XmlNode[] | XmlNode);
  const items = list.flatMap((d) => asArray((d["device"] as XmlNode[] | undefined) ?? [d]));
  const byKey = new Map(items.map((d) => [text(d["key"]), d]));
  return items
    .filter((d) => d["@_xsiType"] === "VirtualDisk")
    .map((d) => {
      const backing = (d["backing"] as XmlNode | undefined) ?? {};
      const capacityBytes = text(d["capacityInBytes"]);
      const disk: VirtualDiskInfo = {
        key: Number(text(d["key"])),
        label: text((d["deviceInfo"] as XmlNode | undefined)?.["label"]) ?? `disk ${text(d["key"])}`,
        fileName: text(backing["fileName"]) ?? "",
        capacityBytes: capacityBytes ? Number(capacityBytes) : Number(text(d["capacityInKB"]) ?? 0) * 1024,
        thinProvisioned: text(backing["thinProvisioned"]) === "true",
        diskMode: text(backing["diskMode"]) ?? "persistent",
        hasParent: backing["parent"] !== undefined,
      };
      const changeId = text(backing["changeId"]);
      if (changeId) disk.changeId = changeId;
      const controller = byKey.get(text(d["controllerKey"]));
      const type = controller?.["@_xsiType"];
      if (typeof type === "string" && text(controller?.["busNumber"]) !== undefined && text(d["unitNumber"]) !== undefined) {
        disk.slot = `${type}${text(controller!["busNumber"])}:${text(d["unitNumber"])}`;
      }
      return disk;
    });
}

function toMissingFault(missing: XmlNode): SoapFault {
  const fault = (missing["fault"] as XmlNode | undefined) ?? {};
  const inner = (fault["fault"] as XmlNode | undefined) ?? fault;
  const name = String(inner["@_xsiType"] ?? "ManagedObjectNotFound");
  return new SoapFault(name, text(fault["localizedMessage"]) ?? `${name} for ${text(missing["path"])}`, inner);
}
