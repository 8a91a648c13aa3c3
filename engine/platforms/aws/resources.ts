// The cloud resources an upload job leaves (its snapshot and AMI): whether they still exist,
// and their removal. "Not found" is an answer here, never a failure.

import { DeleteSnapshotCommand, DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { AwsClients } from "./clients";
import { awsFailure, isNotFound } from "./failures";

export type CloudResourceKind = "snapshot" | "image";

export interface CloudResourceRef {
  kind: CloudResourceKind;
  id: string;
}

export interface CloudResourceState {
  exists: boolean;
  /** The snapshot's or AMI's state (e.g. "completed", "available"), when it exists. */
  state?: string;
}

export async function describeResource(clients: AwsClients, ref: CloudResourceRef, signal: AbortSignal): Promise<CloudResourceState> {
  const call = ref.kind === "image" ? "DescribeImages" : "DescribeSnapshots";
  try {
    const state =
      ref.kind === "image"
        ? (await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [ref.id] }), { abortSignal: signal })).Images?.[0]?.State
        : (await clients.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [ref.id] }), { abortSignal: signal })).Snapshots?.[0]?.State;
    // A deregistered AMI stays visible for a while with that state: it is gone all the same.
    if (state === undefined || state === "deregistered") return { exists: false };
    return { exists: true, state };
  } catch (error) {
    if (isNotFound(error)) return { exists: false };
    throw signal.aborted ? signal.reason : awsFailure(call, `${ref.kind} ${ref.id}`, clients.region, clients.endpoint, error);
  }
}

/** Deregisters an AMI or deletes a snapshot; false when it was already gone. */
export async function removeResource(clients: AwsClients, ref: CloudResourceRef, signal: AbortSignal): Promise<boolean> {
  if (!(await describeResource(clients, ref, signal)).exists) return false;
  const call = ref.kind === "image" ? "DeregisterImage" : "DeleteSnapshot";
  try {
    if (ref.kind === "image") await clients.ec2.send(new DeregisterImageCommand({ ImageId: ref.id }), { abortSignal: signal });
    else await clients.ec2.send(new DeleteSnapshotCommand({ SnapshotId: ref.id }), { abortSignal: signal });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw signal.aborted ? signal.reason : awsFailure(call, `${ref.kind} ${ref.id}`, clients.region, clients.endpoint, error);
  }
}

/** Images before snapshots: AWS refuses to delete a snapshot an AMI still uses. */
export function removalOrder<T extends CloudResourceRef>(refs: readonly T[]): T[] {
  return [...refs].sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "image" ? -1 : 1));
}
