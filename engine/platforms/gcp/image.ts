// The GCE image made from the uploaded archive: images.insert with rawDisk.source (the object's
// storage URL) and containerType TAR, then the global operation waited on until DONE, then the
// image until READY. Plus get/delete for cleanup, $inspect and $delete.

import { setTimeout as sleep } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { GcpClient } from "./client";
import { GcpHttpError, gcpFailure, isNotFound } from "./failures";

export interface GceOperation {
  name: string;
  status: "PENDING" | "RUNNING" | "DONE";
  progress?: number;
  targetLink?: string;
  error?: { errors?: Array<{ code?: string; message?: string }> };
}

export interface GceImage {
  id?: string;
  name: string;
  status?: string;
  selfLink?: string;
  diskSizeGb?: string;
  archiveSizeBytes?: string;
}

export interface ImageInsert {
  project: string;
  name: string;
  description: string;
  bucket: string;
  object: string;
  /** Where the image is stored (a region or multi-region), when given. */
  storageLocation?: string;
  labels: Record<string, string>;
}

/** The URL images.insert takes for an object (always Google's: the service reads it, not us). */
export function storageUrl(bucket: string, object: string): string {
  return `https://storage.googleapis.com/${bucket}/${object.split("/").map(encodeURIComponent).join("/")}`;
}

const imagesPath = (project: string) => `/compute/v1/projects/${encodeURIComponent(project)}/global/images`;

export async function getImage(client: GcpClient, project: string, name: string, signal: AbortSignal): Promise<GceImage | undefined> {
  try {
    return await client.json<GceImage>("gce", "GET", `${imagesPath(project)}/${encodeURIComponent(name)}`, signal);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw signal.aborted ? signal.reason : gcpFailure("images.get", `image '${name}' in project ${project}`, client.where("gce"), error);
  }
}

/** Starts images.insert; returns the operation (the image exists, PENDING, from here on). */
export async function insertImage(client: GcpClient, spec: ImageInsert, signal: AbortSignal): Promise<GceOperation> {
  const body = {
    name: spec.name,
    description: spec.description,
    rawDisk: { source: storageUrl(spec.bucket, spec.object), containerType: "TAR" },
    ...(spec.storageLocation ? { storageLocations: [spec.storageLocation] } : {}),
    ...(Object.keys(spec.labels).length > 0 ? { labels: spec.labels } : {}),
  };
  try {
    return await client.json<GceOperation>("gce", "POST", imagesPath(spec.project), signal, body);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof GcpHttpError && error.status === 409) {
      throw jobFailure(
        "OUTPUT_EXISTS",
        `An image named '${spec.name}' already exists in project ${spec.project}; choose another targetImageName or delete that image.`,
        error,
      );
    }
    throw gcpFailure("images.insert", `image '${spec.name}' from ${storageUrl(spec.bucket, spec.object)}`, client.where("gce"), error);
  }
}

/**
 * Waits for a global operation to be DONE (globalOperations.wait, which itself returns after at
 * most ~2 minutes), bounded by the job's deadline through `signal`. An operation that ended with
 * errors becomes a failure that quotes them.
 */
export async function waitForOperation(
  client: GcpClient,
  project: string,
  op: GceOperation,
  what: string,
  signal: AbortSignal,
  onProgress?: (fraction: number) => void,
): Promise<void> {
  for (let round = 0, delay = 250; op.status !== "DONE"; round++, delay = Math.min(delay * 2, 5000)) {
    if (round > 0) await sleep(delay, undefined, { signal });
    try {
      op = await client.json<GceOperation>("gce", "POST", `/compute/v1/projects/${encodeURIComponent(project)}/global/operations/${encodeURIComponent(op.name)}/wait`, signal);
    } catch (error) {
      throw signal.aborted ? signal.reason : gcpFailure("globalOperations.wait", `operation ${op.name} (${what})`, client.where("gce"), error);
    }
    if (typeof op.progress === "number") onProgress?.(op.progress / 100);
  }
  const errors = op.error?.errors ?? [];
  if (errors.length > 0) {
    const text = errors.map((e) => `${e.code ?? "ERROR"}: ${e.message ?? ""}`).join("; ").slice(0, 800);
    throw jobFailure("PLATFORM_REQUEST_FAILED", `GCE operation ${op.name} (${what}) failed: ${text}.`);
  }
}

/** Deletes the image and waits for it; false when it was already gone. */
export async function deleteImage(client: GcpClient, project: string, name: string, signal: AbortSignal): Promise<boolean> {
  let op: GceOperation;
  try {
    op = await client.json<GceOperation>("gce", "DELETE", `${imagesPath(project)}/${encodeURIComponent(name)}`, signal);
  } catch (error) {
    if (isNotFound(error)) return false;
    throw signal.aborted ? signal.reason : gcpFailure("images.delete", `image '${name}' in project ${project}`, client.where("gce"), error);
  }
  await waitForOperation(client, project, op, `deleting image '${name}'`, signal);
  return true;
}
