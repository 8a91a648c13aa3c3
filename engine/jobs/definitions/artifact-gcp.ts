// $inspect / $delete {jobId} of a GCP upload job: its recorded image and object, as cloud ops.

import { FieldError } from "../../errors";
import { describeGcpResource, GcpResourceRef, gcpRemovalOrder, openGcpClient, removeGcpResource } from "../../platforms/gcp";
import { RunContext } from "../definition";
import type { CloudArtifactParams, CloudOps } from "./artifact-files";

/** The refs a complete gcp upload recorded, or a reason they are unusable. */
export function gcpRefs(artifacts: Record<string, unknown>): GcpResourceRef[] | undefined {
  const refs = Array.isArray(artifacts.cloudResources) ? (artifacts.cloudResources as Array<Record<string, unknown>>) : [];
  const usable = refs.filter(
    (r) => typeof r.id === "string" && ((r.kind === "image" && typeof r.project === "string") || (r.kind === "object" && typeof r.bucket === "string")),
  );
  if (usable.length === 0 || usable.length !== refs.length) return undefined;
  return usable.map((r) => (r.kind === "image" ? { kind: "image", id: String(r.id), project: String(r.project) } : { kind: "object", id: String(r.id), bucket: String(r.bucket) }));
}

export function openGcpOps(p: CloudArtifactParams, ctx: RunContext): CloudOps {
  const client = openGcpClient(ctx.credential(p.platformCredentialId!));
  return {
    where: p.project ? `project ${p.project}` : "GCP",
    // A token proves the key and the token endpoint; each ref's own call proves the rest.
    probe: async (signal) => void (await client.accessToken(signal)),
    describe: (ref, signal) => describeGcpResource(client, ref as GcpResourceRef, signal),
    remove: (ref, signal) => removeGcpResource(client, ref as GcpResourceRef, signal),
    order: (refs) => gcpRemovalOrder(refs as GcpResourceRef[]),
    close: () => undefined,
  };
}

export function gcpCredentialProblem(p: CloudArtifactParams, type: string | undefined): FieldError[] {
  if (type === undefined) {
    return [{ field: "platformCredentialId", message: `names credential '${p.platformCredentialId}' (the one job '${p.jobId}' used unless given), which does not exist; create it again or name another Gcp credential` }];
  }
  if (type !== "Gcp") return [{ field: "platformCredentialId", message: `must name a Gcp credential; '${p.platformCredentialId}' is of type ${type}` }];
  return [];
}
