import { JobDefinition, RunContext } from "../definition";
import {
  ArtifactParams,
  artifactFilesBody,
  checkArtifacts,
  CloudArtifactParams,
  isCloudArtifacts,
  openArtifactStorage,
  openCloudOps,
  resolveArtifactFiles,
  ArtifactFilesParams,
} from "./artifact-files";

export type DeleteParams = ArtifactParams;

/**
 * Removes what a job left: files it wrote (an exported disk, a vDisk and its properties file)
 * or the cloud resources of an upload job (its AMI, then its snapshot): how a client deletes an
 * artifact, run by the connector that reaches the storage or the cloud. An engine addition,
 * shaped like the IPS image operations. Something already gone is reported, not an error.
 */
export const deleteJob: JobDefinition<DeleteParams> = {
  type: "delete",
  summary: "Delete the artifacts of earlier jobs: files named directly or by jobId, or an upload job's AMI and snapshot by jobId",
  body: artifactFilesBody("delete", "once this job completes"),
  resolve: resolveArtifactFiles,
  validate: checkArtifacts,
  steps: () => [
    { name: "validate", weight: 1 },
    { name: "remove", weight: 9 },
  ],
  run: (p, ctx) => (isCloudArtifacts(p) ? deleteCloudResources(p, ctx) : deleteFiles(p, ctx)),
  // The named job's outputs are gone now: its request may run again.
  releasesClientTokenOf: (p) => p.jobId,
};

async function deleteFiles(p: ArtifactFilesParams, ctx: RunContext): Promise<void> {
  const storage = openArtifactStorage(p, ctx);
  await ctx.step("validate", () => storage.probe(ctx.signal));
  const removed: string[] = [];
  const missing: string[] = [];
  await ctx.step("remove", async (progress) => {
    for (const [i, name] of p.filenames.entries()) {
      if (await storage.stat(name, ctx.signal)) {
        await storage.remove(name, ctx.signal);
        removed.push(name);
      } else {
        missing.push(name);
        ctx.warn("FILE_ALREADY_GONE", `'${name}' was not in ${storage.uri}; nothing to delete.`);
      }
      progress((i + 1) / p.filenames.length);
    }
  });
  ctx.setArtifacts({ location: storage.uri, removed, missing });
}

async function deleteCloudResources(p: CloudArtifactParams, ctx: RunContext): Promise<void> {
  const ops = openCloudOps(p, ctx);
  try {
    await ctx.step("validate", () => ops.probe(ctx.signal));
    const results = await ctx.step("remove", async (progress) => {
      const done: Array<{ kind: string; id: string; removed: boolean }> = [];
      const ordered = ops.order(p.cloudResources);
      for (const [i, ref] of ordered.entries()) {
        const removed = await ops.remove(ref, ctx.signal);
        if (!removed) ctx.warn("RESOURCE_ALREADY_GONE", `The ${ref.kind} ${ref.id} was not found in ${ops.where}; nothing to delete.`);
        done.push({ kind: ref.kind, id: ref.id, removed });
        progress((i + 1) / ordered.length);
      }
      return done;
    });
    ctx.setArtifacts({ platform: p.platform, ...(p.region ? { region: p.region } : {}), ...(p.project ? { project: p.project } : {}), cloudResources: results });
  } finally {
    ops.close();
  }
}
