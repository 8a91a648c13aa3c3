// The AMI MCS consumes, registered from an uploaded snapshot.

import { DescribeImagesCommand, RegisterImageCommand } from "@aws-sdk/client-ec2";
import { setTimeout as sleep } from "node:timers/promises";
import { jobFailure } from "../../errors";
import { AwsClients } from "./clients";
import { awsFailure } from "./failures";

export const ROOT_DEVICE = "/dev/sda1";

export interface ImageSpec {
  name: string;
  description: string;
  snapshotId: string;
  tags: Record<string, string>;
}

/** RegisterImage: root device /dev/sda1 from the snapshot, x86_64, hvm, ENA. Returns the AMI id. */
export async function registerImage(clients: AwsClients, spec: ImageSpec, signal: AbortSignal): Promise<string> {
  const tags = Object.entries(spec.tags).map(([Key, Value]) => ({ Key, Value }));
  try {
    const answer = await clients.ec2.send(
      new RegisterImageCommand({
        Name: spec.name,
        Description: spec.description,
        Architecture: "x86_64",
        VirtualizationType: "hvm",
        EnaSupport: true,
        RootDeviceName: ROOT_DEVICE,
        BlockDeviceMappings: [
          { DeviceName: ROOT_DEVICE, Ebs: { SnapshotId: spec.snapshotId, DeleteOnTermination: true, VolumeType: "gp3" } },
        ],
        TagSpecifications: tags.length > 0 ? [{ ResourceType: "image", Tags: tags }] : undefined,
      }),
      { abortSignal: signal },
    );
    if (!answer.ImageId) throw new Error("RegisterImage answered without an ImageId");
    return answer.ImageId;
  } catch (error) {
    throw signal.aborted ? signal.reason : awsFailure("RegisterImage", `AMI '${spec.name}' from snapshot ${spec.snapshotId}`, clients.region, clients.endpoint, error);
  }
}

/** Waits until the AMI is `available` (RegisterImage from a snapshot is quick, but not instant). */
export async function waitForImage(clients: AwsClients, imageId: string, signal: AbortSignal): Promise<void> {
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    let state: string | undefined;
    let reason: string | undefined;
    try {
      const image = (await clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }), { abortSignal: signal })).Images?.[0];
      state = image?.State;
      reason = image?.StateReason?.Message;
    } catch (error) {
      throw signal.aborted ? signal.reason : awsFailure("DescribeImages", `the state of AMI ${imageId}`, clients.region, clients.endpoint, error);
    }
    if (state === "available") return;
    if (state !== "pending") {
      throw jobFailure("PLATFORM_REQUEST_FAILED", `AWS reports AMI ${imageId} as ${state ?? "missing"}${reason ? ` (${reason})` : ""} instead of available; run the job again.`);
    }
    await sleep(delay, undefined, { signal });
  }
}

/** This account's AMI of that name (AMI names are unique per account and region), if any. */
export async function findOwnImage(clients: AwsClients, name: string, signal: AbortSignal): Promise<{ id: string; tags: Record<string, string> } | undefined> {
  try {
    const image = (
      await clients.ec2.send(new DescribeImagesCommand({ Owners: ["self"], Filters: [{ Name: "name", Values: [name] }] }), { abortSignal: signal })
    ).Images?.find((i) => i.State !== "deregistered");
    if (!image?.ImageId) return undefined;
    return { id: image.ImageId, tags: Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])) };
  } catch (error) {
    throw signal.aborted ? signal.reason : awsFailure("DescribeImages", `AMIs named '${name}'`, clients.region, clients.endpoint, error);
  }
}
