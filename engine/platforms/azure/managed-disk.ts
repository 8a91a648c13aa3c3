// The managed-disk direct upload on ARM: create an empty disk for upload, get a write SAS,
// revoke it, and the managed image made from the disk. Every call is a long-running operation.

import { jobFailure } from "../../errors";
import { ArmClient } from "./arm";
import { isNotFound } from "./failures";

export const DISKS_API_VERSION = "2024-03-02";
export const IMAGES_API_VERSION = "2024-07-01";
export const RESOURCE_GROUPS_API_VERSION = "2021-04-01";
/** beginGetAccess's SAS lifetime: long enough for a large disk on a slow line. */
export const WRITE_ACCESS_SECONDS = 24 * 3600;

export interface ResourceGroupRef {
  subscriptionId: string;
  resourceGroup: string;
}

export function resourceGroupId(g: ResourceGroupRef): string {
  return `/subscriptions/${encodeURIComponent(g.subscriptionId)}/resourceGroups/${encodeURIComponent(g.resourceGroup)}`;
}

export function diskId(g: ResourceGroupRef, name: string): string {
  return `${resourceGroupId(g)}/providers/Microsoft.Compute/disks/${encodeURIComponent(name)}`;
}

export function imageId(g: ResourceGroupRef, name: string): string {
  return `${resourceGroupId(g)}/providers/Microsoft.Compute/images/${encodeURIComponent(name)}`;
}

export function snapshotId(g: ResourceGroupRef, name: string): string {
  return `${resourceGroupId(g)}/providers/Microsoft.Compute/snapshots/${encodeURIComponent(name)}`;
}

const MANAGED_DISK_ID = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/disks\/([^/]+)$/i;

/** The subscription, resource group and name in a managed disk's ARM id; undefined when it is not one. */
export function parseDiskId(id: string): (ResourceGroupRef & { name: string }) | undefined {
  const m = MANAGED_DISK_ID.exec(id);
  return m ? { subscriptionId: decodeURIComponent(m[1]!), resourceGroup: decodeURIComponent(m[2]!), name: decodeURIComponent(m[3]!) } : undefined;
}

export interface UploadDiskSpec {
  location: string;
  /** The fixed VHD's size: N MiB + 512. */
  uploadSizeBytes: number;
  osType: "Windows" | "Linux";
  hyperVGeneration: "V1" | "V2";
  tags: Record<string, string>;
}

export interface DiskState {
  exists: boolean;
  /** ReadyToUpload, ActiveUpload, Unattached, ... */
  diskState?: string;
  location?: string;
  hyperVGeneration?: string;
  osType?: string;
  tags?: Record<string, string>;
}

/** Proves the credential works and the resource group exists; returns its location. */
export async function checkResourceGroup(arm: ArmClient, g: ResourceGroupRef, signal: AbortSignal): Promise<string | undefined> {
  try {
    const answer = await arm.send("GET", `${resourceGroupId(g)}?api-version=${RESOURCE_GROUPS_API_VERSION}`, undefined, signal);
    return answer.json?.location;
  } catch (error) {
    throw arm.fail("GET resource group", `resource group '${g.resourceGroup}' in subscription ${g.subscriptionId}`, error, signal);
  }
}

export async function getDisk(arm: ArmClient, id: string, signal: AbortSignal): Promise<DiskState> {
  try {
    const answer = await arm.send("GET", `${id}?api-version=${DISKS_API_VERSION}`, undefined, signal);
    const { properties = {}, location, tags = {} } = answer.json ?? {};
    return { exists: true, diskState: properties.diskState, location, hyperVGeneration: properties.hyperVGeneration, osType: properties.osType, tags };
  } catch (error) {
    if (isNotFound(error)) return { exists: false };
    throw arm.fail("GET disk", id, error, signal);
  }
}

/** PUT disk with createOption Upload: an empty disk in state ReadyToUpload. */
export async function createUploadDisk(arm: ArmClient, id: string, spec: UploadDiskSpec, signal: AbortSignal): Promise<void> {
  try {
    await arm.longRunning(
      "PUT",
      `${id}?api-version=${DISKS_API_VERSION}`,
      {
        location: spec.location,
        tags: spec.tags,
        sku: { name: "Standard_LRS" },
        properties: {
          osType: spec.osType,
          hyperVGeneration: spec.hyperVGeneration,
          creationData: { createOption: "Upload", uploadSizeBytes: spec.uploadSizeBytes },
        },
      },
      signal,
    );
  } catch (error) {
    throw arm.fail("PUT disk", `an upload disk of ${spec.uploadSizeBytes} bytes in ${spec.location}`, error, signal);
  }
}

/** beginGetAccess Write: the disk goes ActiveUpload; returns the page blob's SAS URL (a secret). */
export async function beginWriteAccess(arm: ArmClient, id: string, signal: AbortSignal): Promise<string> {
  let sas: unknown;
  try {
    const { first, output } = await arm.longRunning(
      "POST",
      `${id}/beginGetAccess?api-version=${DISKS_API_VERSION}`,
      { access: "Write", durationInSeconds: WRITE_ACCESS_SECONDS },
      signal,
    );
    sas = output?.accessSAS ?? first?.accessSAS;
  } catch (error) {
    throw arm.fail("beginGetAccess", `write access to disk ${id}`, error, signal);
  }
  if (typeof sas !== "string" || !/^https?:\/\//.test(sas)) {
    throw jobFailure("PLATFORM_REQUEST_FAILED", `Azure beginGetAccess on disk ${id} answered without an accessSAS URL; run the job again.`);
  }
  return sas;
}

/** endGetAccess: revokes the SAS; an uploaded disk goes Unattached. */
export async function endAccess(arm: ArmClient, id: string, signal: AbortSignal): Promise<void> {
  try {
    await arm.longRunning("POST", `${id}/endGetAccess?api-version=${DISKS_API_VERSION}`, undefined, signal);
  } catch (error) {
    throw arm.fail("endGetAccess", `disk ${id}`, error, signal);
  }
}

export interface ImageSpec {
  location: string;
  diskId: string;
  osType: "Windows" | "Linux";
  hyperVGeneration: "V1" | "V2";
  tags: Record<string, string>;
}

/** A managed image whose OS disk is the uploaded disk (generalized, as MCS master images are). */
export async function createImage(arm: ArmClient, id: string, spec: ImageSpec, signal: AbortSignal): Promise<void> {
  await put(arm, id, IMAGES_API_VERSION, `PUT image`, `image ${id} from disk ${spec.diskId}`, signal, {
    location: spec.location,
    tags: spec.tags,
    properties: {
      hyperVGeneration: spec.hyperVGeneration,
      storageProfile: { osDisk: { osType: spec.osType, osState: "Generalized", managedDisk: { id: spec.diskId } } },
    },
  });
}

export interface SnapshotSpec {
  location: string;
  diskId: string;
  tags: Record<string, string>;
}

/**
 * A full (not incremental) snapshot copied from the disk: what MCS takes as an Azure master
 * image, and independent of the disk once made.
 */
export async function createSnapshot(arm: ArmClient, id: string, spec: SnapshotSpec, signal: AbortSignal): Promise<void> {
  await put(arm, id, DISKS_API_VERSION, "PUT snapshot", `snapshot ${id} of disk ${spec.diskId}`, signal, {
    location: spec.location,
    tags: spec.tags,
    sku: { name: "Standard_LRS" },
    properties: { incremental: false, creationData: { createOption: "Copy", sourceResourceId: spec.diskId } },
  });
}

/** PUT of a resource as a long-running operation; a failure is the coded failure naming `what`. */
async function put(arm: ArmClient, id: string, apiVersion: string, call: string, what: string, signal: AbortSignal, body: unknown): Promise<void> {
  try {
    await arm.longRunning("PUT", `${id}?api-version=${apiVersion}`, body, signal);
  } catch (error) {
    throw arm.fail(call, what, error, signal);
  }
}
