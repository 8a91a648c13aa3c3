// A VM's disk as of a snapshot, downloaded through an NFC export lease: what a disk whose backing
// is a delta of a snapshot chain needs (its content is spread over the delta and its parents,
// in SESPARSE/VMFSSPARSE grains this engine does not parse), and what any disk vCenter can export
// can use.
//
// Why ExportSnapshot and not ExportVm: ExportVm needs the VM powered off (InvalidPowerState
// otherwise) and exports its current state; golden-image VMs may run, and the job already holds
// a snapshot of its own. ExportSnapshot (vSphere API 4.0+) leases exactly that snapshot's disks,
// whatever the VM does meanwhile, and needs only VApp.Export.
//
// The lease: ExportSnapshot answers at once with an HttpNfcLease; once `ready` (or `error`: its
// fault is the failure) its info has one device URL per disk, `key` the disk's device id
// ("/vm-42/VirtualLsiLogicController0:0"). A `*` host is the vCenter we talk to (its agent and
// session cookie); another host is an ESXi host, trusted by the SHA-1 thumbprint the lease gives
// and never sent the session cookie. The disk comes as a streamOptimized VMDK (only the data,
// deflated) and is written to a file in the job's work directory while HttpNfcLeaseProgress
// keeps the lease alive (every quarter of info.leaseTimeout, at most 30 s), then
// HttpNfcLeaseComplete. Any failure or cancel ends in HttpNfcLeaseAbort and the file is removed.
//
// That file is a local copy, unlike the flat path (ranged GETs streamed into the converter), but
// a copy of the compressed data only: holes and zeros never cross the wire nor reach the disk.

import { randomUUID } from "node:crypto";
import { createWriteStream, promises as fs } from "node:fs";
import * as https from "node:https";
import * as nodePath from "node:path";
import { pipeline } from "node:stream/promises";
import { Transform } from "node:stream";
import { EngineError, jobFailure } from "../../errors";
import { VirtualDiskInfo, VsphereClient } from "./client";
import { deviceRequestOptions, deviceTarget, DeviceTarget, LeaseInfo, progress, waitForLease } from "./import";
import { asArray, MoRef, SoapFault, text, toMoRef, XmlNode } from "./soap";

/** A download that moves no byte for this long has failed. */
const DOWNLOAD_IDLE_MS = 120_000;

export interface ExportedDisk {
  /** The streamOptimized VMDK in the work directory (the caller removes it). */
  path: string;
  /** Bytes downloaded from the device URL. */
  bytes: number;
}

export interface ExportLeaseOptions {
  snapshot: MoRef;
  vmName: string;
  /** The disk as the snapshot's configuration lists it. */
  disk: VirtualDiskInfo;
  workDir: string;
  signal: AbortSignal;
  /** Fraction of the download done (by the size vCenter announces, else the disk's capacity). */
  onProgress?(fraction: number): void;
}

/** ExportSnapshot, the disk's GET to a file, HttpNfcLeaseComplete (HttpNfcLeaseAbort on any failure). */
export async function downloadSnapshotDisk(client: VsphereClient, options: ExportLeaseOptions): Promise<ExportedDisk> {
  const { signal, disk } = options;
  const response = await client.transport.call("ExportSnapshot", options.snapshot, {}, signal);
  const lease = toMoRef(asArray(response["returnval"] as XmlNode[])[0]);
  const file = nodePath.join(options.workDir, `.imageport-export-${randomUUID()}.vmdk`);
  let received = 0;
  let expected = 0;
  let keepAlive: NodeJS.Timeout | undefined;
  try {
    const info = await waitForLease(client, lease, signal, "export");
    const device = pickDeviceUrl(client, info, disk, options.vmName);
    const target = deviceTarget(client, device.url, device.sslThumbprint);
    // Keep the lease alive while the data moves, sequentially and never failing the download
    // itself: a lease that expired anyway shows in the answer below.
    let reporting = Promise.resolve();
    const interval = Math.min(30_000, Math.max(250, info.leaseTimeoutSeconds * 250));
    keepAlive = setInterval(() => {
      const percent = Math.min(99, Math.floor((received / Math.max(1, expected || disk.capacityBytes)) * 100));
      reporting = reporting.then(() => progress(client, lease, percent)).then(
        () => undefined,
        () => undefined,
      );
    }, interval);
    await fs.mkdir(options.workDir, { recursive: true });
    try {
      await getFile(target, file, signal, (size) => (expected = size), (n) => {
        received = n;
        options.onProgress?.(Math.min(1, n / Math.max(1, expected || disk.capacityBytes)));
      });
    } catch (error) {
      if (signal.aborted || error instanceof EngineError) throw error;
      // The lease's own verdict (it expired, vCenter failed it) says more than a cut connection.
      await leaseFault(client, lease);
      throw jobFailure(
        "PLATFORM_REQUEST_FAILED",
        `The download of the disk '${disk.label}' of VM '${options.vmName}' from vCenter ${client.address} failed after ${received} bytes (${(error as Error)?.message ?? error}).`,
        error,
      );
    }
    clearInterval(keepAlive);
    keepAlive = undefined;
    await reporting;
    await progress(client, lease, 100);
    await client.transport.call("HttpNfcLeaseComplete", lease, {}, signal);
    return { path: file, bytes: received };
  } catch (error) {
    if (keepAlive) clearInterval(keepAlive);
    await client.transport.call("HttpNfcLeaseAbort", lease, {}, AbortSignal.timeout(30_000)).catch(() => undefined);
    await fs.rm(file, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** The device URL of the disk: its id in `key` (the device key, or its controller slot as vCenter names it). */
function pickDeviceUrl(client: VsphereClient, info: LeaseInfo, disk: VirtualDiskInfo, vmName: string): LeaseInfo["deviceUrls"][number] {
  const disks = info.deviceUrls.filter((d) => d.disk);
  const matches = disks.filter((d) => d.key === String(disk.key) || (disk.slot !== undefined && d.key.endsWith(`/${disk.slot}`)));
  if (matches.length === 1) return matches[0]!;
  // A lease for a one-disk VM names that disk, whatever its key looks like.
  if (matches.length === 0 && disks.length === 1 && info.deviceUrls.length >= 1) return disks[0]!;
  throw jobFailure(
    "PLATFORM_REQUEST_FAILED",
    `vCenter ${client.address} offered the export of VM '${vmName}' with the disk URLs ${disks.map((d) => `'${d.key}'`).join(", ") || "(none)"}; ` +
      `none is the disk '${disk.label}' (key ${disk.key}${disk.slot ? `, ${disk.slot}` : ""}).`,
  );
}

/** Throws the lease's fault when vCenter has put it in `error`; nothing otherwise. */
async function leaseFault(client: VsphereClient, lease: MoRef): Promise<void> {
  let p: Record<string, unknown>;
  try {
    p = await client.properties(lease, ["state", "error"], AbortSignal.timeout(15_000));
  } catch {
    return;
  }
  if (text(p["state"]) !== "error") return;
  const error = (p["error"] as XmlNode | undefined) ?? {};
  const fault = (error["fault"] as XmlNode | undefined) ?? {};
  const name = String(fault["@_xsiType"] ?? "LeaseFailed");
  throw new SoapFault(name, `${text(error["localizedMessage"]) ?? "the export lease failed"}${name === "Timedout" ? " (the lease expired during the download)" : ""}`, fault);
}

/** GET the device URL into `file`, streaming; `onSize` with Content-Length, `onReceived` with the bytes so far. */
async function getFile(target: DeviceTarget, file: string, signal: AbortSignal, onSize: (bytes: number) => void, onReceived: (bytes: number) => void): Promise<void> {
  try {
    await new Promise<void>((resolve, reject) => {
      const request = https.request(
        deviceRequestOptions(target, "GET", signal),
        (response) => {
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            const chunks: Buffer[] = [];
            response.on("data", (c: Buffer) => chunks.length < 8 && chunks.push(c));
            response.on("error", reject);
            response.on("end", () => {
              const answer = Buffer.concat(chunks).toString("utf8").slice(0, 300).trim();
              reject(jobFailure("PLATFORM_REQUEST_FAILED", `vCenter refused the download of the exported disk (HTTP ${status}${answer ? `: ${answer}` : ""}).`));
            });
            return;
          }
          const length = Number(response.headers["content-length"] ?? 0);
          if (length > 0) onSize(length);
          let received = 0;
          const count = new Transform({
            transform(chunk: Buffer, _encoding, done) {
              received += chunk.length;
              onReceived(received);
              done(null, chunk);
            },
          });
          // An answer cut short (the connection dropped, the lease ended) must not pass as a disk.
          response.on("aborted", () => response.destroy(Object.assign(new Error("the connection closed in the middle of the download"), { code: "ECONNRESET" })));
          pipeline(response, count, createWriteStream(file)).then(() => {
            if (!response.complete || (length > 0 && received !== length)) {
              reject(jobFailure("PLATFORM_REQUEST_FAILED", `The download of the exported disk ended after ${received} of ${length || "?"} bytes.`));
            } else resolve();
          }, reject);
        },
      );
      request.setTimeout(DOWNLOAD_IDLE_MS, () => request.destroy(Object.assign(new Error(`no byte moved for ${DOWNLOAD_IDLE_MS / 1000} s`), { code: "ETIMEDOUT" })));
      request.on("error", reject);
      request.end();
    });
  } finally {
    if (target.own) target.agent.destroy();
  }
}
