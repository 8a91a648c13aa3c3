// getVirtualMachines: a vCenter's VMs with their disks, so a program can pick a VM by name.
// The engine answers with a listVirtualMachines job (only a connector reaches vCenter); this
// waits for it and returns its artifacts.

import { waitForJob } from "../../client";
import { JobFailedError } from "../errors";
import { OperationContext } from "../handler";
import { PropertyMap } from "../properties";
import { requestBody } from "../jobs/request";

/** How long listing may take. */
const LIST_WAIT_MS = 5 * 60_000;
const ARGS = ["vsphereHost", "vspherePort", "vsphereCredentialId", "vsphereSslCaCertificate", "vsphereSslFingerprint", "vsphereSslNoCheckHostname", "resourceLocationId"] as const;

export async function getVirtualMachines(args: PropertyMap, ctx: OperationContext): Promise<PropertyMap> {
  const job = await ctx.client.jobs.start("listVirtualMachines", requestBody(args, ARGS), { signal: ctx.signal });
  const result = await waitForJob(ctx.client.jobs, job.id, { maxWaitMs: LIST_WAIT_MS, signal: ctx.signal });
  const last = result.last ?? job;
  if (result.state !== "SUCCESS") {
    throw new JobFailedError(job.id, last.error?.code ?? result.state, last.error?.message ?? String(result.reason), "listVirtualMachines", last);
  }
  const artifacts = last.additionalInfo.artifacts as { virtualMachines?: unknown[] };
  return { virtualMachines: artifacts.virtualMachines ?? [] };
}
