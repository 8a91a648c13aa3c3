// The cloud resources a GCP upload job leaves (its image and its archive object): whether they
// still exist, and their removal. "Not found" is an answer here, never a failure.

import { GcpClient } from "./client";
import { deleteObject, getObject } from "./gcs-object";
import { deleteImage, getImage } from "./image";

export type GcpResourceRef = { kind: "image"; id: string; project: string } | { kind: "object"; id: string; bucket: string };

export interface GcpResourceState {
  exists: boolean;
  /** The image's status (e.g. "READY"), or "STORED" for an object, when it exists. */
  state?: string;
}

export async function describeGcpResource(client: GcpClient, ref: GcpResourceRef, signal: AbortSignal): Promise<GcpResourceState> {
  if (ref.kind === "image") {
    const image = await getImage(client, ref.project, ref.id, signal);
    return image ? { exists: true, ...(image.status ? { state: image.status } : {}) } : { exists: false };
  }
  return (await getObject(client, ref.bucket, ref.id, signal)) ? { exists: true, state: "STORED" } : { exists: false };
}

/** Deletes an image (waiting on its operation) or an object; false when it was already gone. */
export function removeGcpResource(client: GcpClient, ref: GcpResourceRef, signal: AbortSignal): Promise<boolean> {
  return ref.kind === "image" ? deleteImage(client, ref.project, ref.id, signal) : deleteObject(client, ref.bucket, ref.id, signal);
}

/** Images before objects: an image being made still reads its object. */
export function gcpRemovalOrder<T extends GcpResourceRef>(refs: readonly T[]): T[] {
  return [...refs].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "image" ? -1 : 1));
}

/** Where a resource is, for messages. */
export function describeRef(ref: GcpResourceRef): string {
  return ref.kind === "image" ? `image '${ref.id}' in project ${ref.project}` : `object gs://${ref.bucket}/${ref.id}`;
}
