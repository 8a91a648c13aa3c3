// The cloud resources an upload job leaves (its snapshot and AMI): whether they still exist,
// and their removal. "Not found" is an answer here, never a failure.

import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotsCommand,
} from "@aws-sdk/client-ec2";
import { jobFailure } from "../../errors";
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

/** Instances not terminated that were launched from the AMI: what still needs it. */
async function instancesUsing(clients: AwsClients, imageId: string, signal: AbortSignal): Promise<string[]> {
  const filters = [
    { Name: "image-id", Values: [imageId] },
    { Name: "instance-state-name", Values: ["pending", "running", "stopping", "stopped"] },
  ];
  try {
    const { Reservations = [] } = await clients.ec2.send(new DescribeInstancesCommand({ Filters: filters }), { abortSignal: signal });
    return Reservations.flatMap((r) => r.Instances ?? []).map((i) => i.InstanceId ?? "?");
  } catch (error) {
    throw signal.aborted ? signal.reason : awsFailure("DescribeInstances", `instances of ${imageId}`, clients.region, clients.endpoint, error);
  }
}

/**
 * Deregisters an AMI or deletes a snapshot; false when it was already gone. An AMI that
 * instances still run from is refused with IMAGE_IN_USE, since machines (an MCS catalog) need it.
 */
export async function removeResource(clients: AwsClients, ref: CloudResourceRef, signal: AbortSignal): Promise<boolean> {
  if (!(await describeResource(clients, ref, signal)).exists) return false;
  if (ref.kind === "image") {
    const users = await instancesUsing(clients, ref.id, signal);
    if (users.length > 0) {
      throw jobFailure(
        "IMAGE_IN_USE",
        `The AMI ${ref.id} is still used by ${users.length} instance(s) in ${clients.region}: ${users.slice(0, 10).join(", ")}. ` +
          `Terminate them (or move the catalog to another image) and delete again, or keep the image with the retainOnDelete resource option.`,
      );
    }
  }
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
