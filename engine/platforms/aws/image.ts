// The AMI MCS consumes, registered from an uploaded snapshot.

import { RegisterImageCommand } from "@aws-sdk/client-ec2";
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
