// A first call that proves the endpoint answers and accepts the credentials in this region.

import { DescribeRegionsCommand } from "@aws-sdk/client-ec2";
import { jobFailure } from "../../errors";
import { AwsClients } from "./clients";
import { awsFailure } from "./failures";

export async function checkRegionReachable(clients: AwsClients, signal: AbortSignal): Promise<void> {
  let regions: string[];
  try {
    const answer = await clients.ec2.send(new DescribeRegionsCommand({ AllRegions: true }), { abortSignal: signal });
    regions = (answer.Regions ?? []).map((r) => r.RegionName ?? "");
  } catch (error) {
    throw signal.aborted ? signal.reason : awsFailure("DescribeRegions", "checking the credentials and the region", clients.region, clients.endpoint, error);
  }
  if (regions.length > 0 && !regions.includes(clients.region)) {
    throw jobFailure("SHARE_UNREACHABLE", `AWS does not know the region '${clients.region}' (field region). Use one of: ${regions.slice(0, 40).join(", ")}.`);
  }
}
