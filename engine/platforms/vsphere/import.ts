// A new VM with one disk, its content sent to vCenter through an NFC import lease: what `govc
// import.vmdk` and ovftool do, and what a real vCenter accepts for any client.
//
// Why NFC and not a flat VMDK PUT through /folder: /folder stores exactly the bytes it is sent,
// so a flat extent goes over the wire at its whole apparent size (zeros included; a 100 GiB disk
// is 100 GiB of traffic however little it holds), and the datastore then holds a thick file. An
// import lease takes a streamOptimized VMDK (only the data, deflated, in grains) and ESXi writes
// it into the VM's thin disk: the traffic follows the data. It is also one vCenter operation:
// ImportVApp makes the VM and its empty disk in the given folder, pool and datastore, and the
// disk fills only through the lease; nothing needs Datastore.FileManagement.
//
// Why a hand-built VirtualMachineImportSpec and not OvfManager.CreateImportSpec: ImportVApp takes
// any ImportSpec; CreateImportSpec only derives one from an OVF envelope. Building it here says
// exactly what the VM is (name, guest id, CPUs in one socket, memory, an LSI Logic SAS controller
// every Windows has a driver for, one thin disk of the right size, the annotation that marks it
// as this job's), with no OVF in between and no round trip of a typed spec through our untyped
// SOAP layer. Elements follow the vim25 schema's order (vCenter's deserializer insists on it).
//
// The lease: ImportVApp answers at once with an HttpNfcLease that becomes `ready` once the VM
// exists; its info names the VM and one device URL per disk (host `*` means the vCenter we talk
// to; another host is an ESXi host, trusted by the SHA-1 thumbprint the lease gives for it). The
// VMDK is PUT there (Content-Type application/x-vnd.vmware-streamVmdk) while
// HttpNfcLeaseProgress keeps the lease alive (it expires after info.leaseTimeout seconds without
// one), then HttpNfcLeaseComplete. Any failure or cancel ends in HttpNfcLeaseAbort; the VM the
// import made is the caller's to destroy (onVm tells it which one as soon as it is known).

import { createReadStream, promises as fs } from "node:fs";
import * as https from "node:https";
import { setTimeout as sleep } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { VsphereClient } from "./client";
import { asArray, MoRef, moRefXml, SoapFault, text, toMoRef, XmlNode } from "./soap";
import { vsphereAgent } from "./tls";

export interface VmImportSpec {
  name: string;
  /** The VM's notes; imageport puts its job tag there. */
  annotation: string;
  guestId: string;
  numCpus: number;
  memoryMB: number;
  /** The disk's capacity; a whole number of KiB, at least the VMDK's virtual size. */
  capacityBytes: number;
  pool: MoRef;
  folder: MoRef;
  datastore: { ref: MoRef; name: string };
}

export interface ImportOptions {
  /** The streamOptimized VMDK to send. */
  file: string;
  signal: AbortSignal;
  /** The VM the import made, as soon as the lease names it (the caller removes it on failure). */
  onVm?(vm: MoRef): void;
  /** Fraction of the VMDK sent. */
  onProgress?(fraction: number): void;
}

export interface ImportedVm {
  vm: MoRef;
  /** Bytes of the streamOptimized VMDK sent to the device URL. */
  bytesSent: number;
}

const CONTROLLER_KEY = -201;
const DISK_KEY = -202;
/** A PUT that moves no byte for this long has failed. */
const UPLOAD_IDLE_MS = 120_000;

/** The VirtualMachineImportSpec, elements in schema order. */
function importSpecXml(spec: VmImportSpec): XmlNode {
  return {
    "@_xsi:type": "VirtualMachineImportSpec",
    configSpec: {
      name: spec.name,
      guestId: spec.guestId,
      annotation: spec.annotation,
      files: { vmPathName: `[${spec.datastore.name}]` },
      numCPUs: spec.numCpus,
      // One socket: client Windows uses at most two.
      numCoresPerSocket: spec.numCpus,
      memoryMB: spec.memoryMB,
      deviceChange: [
        {
          operation: "add",
          device: { "@_xsi:type": "VirtualLsiLogicSASController", key: CONTROLLER_KEY, busNumber: 0, sharedBus: "noSharing" },
        },
        {
          operation: "add",
          fileOperation: "create",
          device: {
            "@_xsi:type": "VirtualDisk",
            key: DISK_KEY,
            backing: {
              "@_xsi:type": "VirtualDiskFlatVer2BackingInfo",
              fileName: "",
              datastore: moRefXml(spec.datastore.ref),
              diskMode: "persistent",
              thinProvisioned: true,
            },
            controllerKey: CONTROLLER_KEY,
            unitNumber: 0,
            capacityInKB: Math.ceil(spec.capacityBytes / 1024),
            capacityInBytes: Math.ceil(spec.capacityBytes / 1024) * 1024,
          },
        },
      ],
    },
  };
}

/** ImportVApp, the VMDK PUT to the lease's disk URL, HttpNfcLeaseComplete (HttpNfcLeaseAbort on any failure). */
export async function importVm(client: VsphereClient, spec: VmImportSpec, options: ImportOptions): Promise<ImportedVm> {
  const { signal } = options;
  const size = (await fs.stat(options.file)).size;
  const response = await client.transport.call("ImportVApp", spec.pool, { spec: importSpecXml(spec), folder: moRefXml(spec.folder) }, signal);
  const lease = toMoRef(asArray(response["returnval"] as XmlNode[])[0]);
  let sent = 0;
  let keepAlive: NodeJS.Timeout | undefined;
  try {
    const info = await waitForLease(client, lease, signal);
    options.onVm?.(info.vm);
    const disks = info.deviceUrls.filter((d) => d.disk);
    if (disks.length !== 1) {
      throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${client.address} offered ${disks.length} disk URLs for the import of VM '${spec.name}', which has one disk.`);
    }
    const target = deviceTarget(client, disks[0]!.url, disks[0]!.sslThumbprint);
    // Keep the lease alive while the data moves, sequentially and never failing the upload itself:
    // HttpNfcLeaseComplete gives the verdict.
    let reporting = Promise.resolve();
    // A quarter of the lease's timeout (at most 30 s): three keep-alives may go astray.
    const interval = Math.min(30_000, Math.max(250, info.leaseTimeoutSeconds * 250));
    keepAlive = setInterval(() => {
      const percent = Math.min(99, Math.floor((sent / Math.max(1, size)) * 100));
      reporting = reporting.then(() => progress(client, lease, percent)).then(
        () => undefined,
        () => undefined,
      );
    }, interval);
    await putFile(target, options.file, size, signal, (n) => {
      sent = n;
      options.onProgress?.(n / Math.max(1, size));
    });
    clearInterval(keepAlive);
    keepAlive = undefined;
    await reporting;
    await progress(client, lease, 100);
    await client.transport.call("HttpNfcLeaseComplete", lease, {}, signal);
    return { vm: info.vm, bytesSent: sent };
  } catch (error) {
    if (keepAlive) clearInterval(keepAlive);
    await client.transport.call("HttpNfcLeaseAbort", lease, {}, AbortSignal.timeout(30_000)).catch(() => undefined);
    throw error;
  }
}

export function progress(client: VsphereClient, lease: MoRef, percent: number): Promise<unknown> {
  return client.transport.call("HttpNfcLeaseProgress", lease, { percent }, AbortSignal.timeout(30_000));
}

export interface LeaseInfo {
  vm: MoRef;
  leaseTimeoutSeconds: number;
  /** `key`: the device's immutable id ("/vm-42/VirtualLsiLogicController0:0" on export leases). */
  deviceUrls: Array<{ key: string; url: string; disk: boolean; sslThumbprint?: string }>;
}

/** Polls the lease (0.2 s doubling to 2 s) until it is ready; its error as a fault otherwise. */
export async function waitForLease(client: VsphereClient, lease: MoRef, signal: AbortSignal, what = "import"): Promise<LeaseInfo> {
  let delay = 200;
  for (;;) {
    const p = await client.properties(lease, ["state", "error"], signal);
    const state = text(p["state"]);
    if (state === "ready") break;
    if (state === "error") {
      const error = (p["error"] as XmlNode | undefined) ?? {};
      const fault = (error["fault"] as XmlNode | undefined) ?? {};
      throw new SoapFault(String(fault["@_xsiType"] ?? "LeaseFailed"), text(error["localizedMessage"]) ?? `the ${what} failed`, fault);
    }
    if (state === "done") throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${client.address} ended the ${what} lease before any data was sent.`);
    await sleep(delay * (0.5 + Math.random() / 2), undefined, { signal });
    delay = Math.min(delay * 2, 2000);
  }
  const info = ((await client.properties(lease, ["info"], signal))["info"] as XmlNode | undefined) ?? {};
  return {
    vm: toMoRef(info["entity"]),
    leaseTimeoutSeconds: Number(text(info["leaseTimeout"]) ?? 300),
    deviceUrls: asArray(info["deviceUrl"] as XmlNode[]).map((d) => {
      const thumbprint = text(d["sslThumbprint"]);
      return { key: text(d["key"]) ?? "", url: text(d["url"]) ?? "", disk: text(d["disk"]) === "true", ...(thumbprint ? { sslThumbprint: thumbprint } : {}) };
    }),
  };
}

export interface DeviceTarget {
  url: URL;
  agent: https.Agent;
  /** The session cookie goes to vCenter itself, never to another host. */
  cookie?: string;
  /** An agent made for an ESXi host, destroyed after the upload. */
  own: boolean;
}

/** Where the disk goes: `*` is vCenter (its agent and trust); an ESXi host is trusted by the lease's thumbprint. */
export function deviceTarget(client: VsphereClient, raw: string, thumbprint: string | undefined): DeviceTarget {
  const { host, port, tls } = client.connection;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const star = /^https:\/\/\*(?=[:/])/i.test(raw);
  const url = new URL(star ? raw.replace(/^https:\/\/\*(:\d+)?/i, `https://${hostPart}:${port}`) : raw);
  if (url.protocol !== "https:") throw jobFailure("PLATFORM_REQUEST_FAILED", `vCenter ${client.address} offered the disk URL '${raw}', which is not HTTPS.`);
  const sameHost = star || (url.hostname.replace(/^\[|\]$/g, "") === host && Number(url.port || 443) === port);
  if (sameHost) return { url, agent: client.transport.options.agent, cookie: client.transport.sessionCookie, own: false };
  const address = `${url.hostname}:${url.port || 443}`;
  return { url, agent: vsphereAgent(address, thumbprint ? { fingerprint: thumbprint } : tls), own: true };
}

/** The request options for a lease's device URL: its host, the agent that trusts it, vCenter's session only for vCenter itself. */
export function deviceRequestOptions(target: DeviceTarget, method: "GET" | "PUT", signal: AbortSignal, headers: Record<string, string> = {}): https.RequestOptions {
  return {
    protocol: "https:",
    hostname: target.url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(target.url.port || 443),
    path: target.url.pathname + target.url.search,
    method,
    agent: target.agent,
    signal,
    headers: { ...headers, ...(target.cookie ? { cookie: target.cookie } : {}) },
  };
}

/** PUT the file, streaming; `onSent` with the bytes handed to the socket so far. */
async function putFile(target: DeviceTarget, file: string, size: number, signal: AbortSignal, onSent: (bytes: number) => void): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const body = createReadStream(file);
      const request = https.request(
        deviceRequestOptions(target, "PUT", signal, { "content-type": "application/x-vnd.vmware-streamVmdk", "content-length": String(size) }),
        (response) => {
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on("data", (c: Buffer) => {
            if (kept < 4096) chunks.push(c);
            kept += c.length;
          });
          response.on("error", reject);
          response.on("end", () => {
            const status = response.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve();
            const answer = Buffer.concat(chunks).toString("utf8").slice(0, 300).trim();
            reject(jobFailure("PLATFORM_REQUEST_FAILED", `vCenter refused the disk data of the import (HTTP ${status}${answer ? `: ${answer}` : ""}).`));
          });
        },
      );
      request.setTimeout(UPLOAD_IDLE_MS, () => request.destroy(Object.assign(new Error(`no byte moved for ${UPLOAD_IDLE_MS / 1000} s`), { code: "ETIMEDOUT" })));
      request.on("error", reject);
      let sent = 0;
      body.on("data", (chunk) => {
        sent += chunk.length;
        onSent(sent);
      });
      body.on("error", (error) => request.destroy(error));
      body.pipe(request);
    });
  } finally {
    if (target.own) target.agent.destroy();
  }
}

/**
 * What making the image VM needs, per entity it is checked on (the VM does not exist yet: its
 * privileges come from the folder). VirtualMachine.Inventory.Delete is there because a failed
 * or cancelled job removes the VM it made, and a retry removes its earlier attempt's.
 */
export const IMPORT_PRIVILEGES = {
  pool: ["Resource.AssignVMToPool", "VApp.Import"],
  folder: ["VApp.Import", "VirtualMachine.Inventory.Delete", "VirtualMachine.State.CreateSnapshot"],
  datastore: ["Datastore.AllocateSpace"],
} as const;

/** Every privilege of IMPORT_PRIVILEGES the session lacks, as "<privilege> on <what>". */
export async function missingImportPrivileges(
  client: VsphereClient,
  where: { pool: { ref: MoRef; path: string }; folder: { ref: MoRef; path: string }; datastore: { ref: MoRef; name: string } },
  signal: AbortSignal,
): Promise<string[]> {
  const checks: Array<[MoRef, readonly string[], string]> = [
    [where.pool.ref, IMPORT_PRIVILEGES.pool, `resource pool '${where.pool.path}'`],
    [where.folder.ref, IMPORT_PRIVILEGES.folder, `folder '${where.folder.path}'`],
    [where.datastore.ref, IMPORT_PRIVILEGES.datastore, `datastore '${where.datastore.name}'`],
  ];
  const missing: string[] = [];
  for (const [entity, wanted, what] of checks) {
    for (const privilege of await client.missingPrivileges(entity, [...wanted], signal)) missing.push(`${privilege} on ${what}`);
  }
  return missing;
}
