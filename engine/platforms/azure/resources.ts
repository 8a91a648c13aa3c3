// The Azure resources jobs leave (an upload's managed disk and image, an image job's snapshot), by ARM id: whether
// they still exist, and their removal. "Not found" is an answer here, never a failure.

import { ArmClient } from "./arm";
import { isNotFound } from "./failures";
import { DISKS_API_VERSION, endAccess, IMAGES_API_VERSION } from "./managed-disk";

export type AzureResourceKind = "disk" | "image" | "snapshot";

export interface AzureResourceRef {
  kind: AzureResourceKind;
  /** The ARM resource id. */
  id: string;
}

export interface AzureResourceState {
  exists: boolean;
  /** A disk's diskState (e.g. "Unattached"), an image's provisioningState. */
  state?: string;
  /** Its tags (the engine tags what it makes with the job id). */
  tags?: Record<string, string>;
}

const apiVersion = (kind: AzureResourceKind) => (kind === "image" ? IMAGES_API_VERSION : DISKS_API_VERSION);

export async function describeAzureResource(arm: ArmClient, ref: AzureResourceRef, signal: AbortSignal): Promise<AzureResourceState> {
  try {
    const { json } = await arm.send("GET", `${ref.id}?api-version=${apiVersion(ref.kind)}`, undefined, signal);
    const state = ref.kind === "disk" ? json?.properties?.diskState : json?.properties?.provisioningState;
    return { exists: true, ...(state !== undefined ? { state } : {}), tags: json?.tags ?? {} };
  } catch (error) {
    if (isNotFound(error)) return { exists: false };
    throw arm.fail(`GET ${ref.kind}`, ref.id, error, signal);
  }
}

/** Deletes an image or a disk (revoking a disk's upload access first); false when it was already gone. */
export async function removeAzureResource(arm: ArmClient, ref: AzureResourceRef, signal: AbortSignal): Promise<boolean> {
  const found = await describeAzureResource(arm, ref, signal);
  if (!found.exists) return false;
  // Azure refuses to delete a disk while its SAS is active.
  if (ref.kind === "disk" && (found.state === "ActiveUpload" || found.state === "ActiveSAS")) await endAccess(arm, ref.id, signal);
  try {
    await arm.longRunning("DELETE", `${ref.id}?api-version=${apiVersion(ref.kind)}`, undefined, signal);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw arm.fail(`DELETE ${ref.kind}`, ref.id, error, signal);
  }
}

const REMOVAL_RANK: Record<AzureResourceKind, number> = { image: 0, snapshot: 1, disk: 2 };

/** Images and snapshots before disks: they are made from the disk. */
export function azureRemovalOrder<T extends AzureResourceRef>(refs: readonly T[]): T[] {
  return [...refs].sort((a, b) => REMOVAL_RANK[a.kind] - REMOVAL_RANK[b.kind]);
}
