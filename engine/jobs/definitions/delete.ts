import { JobDefinition } from "../definition";
import { ArtifactFilesParams, artifactFilesBody, checkArtifactFiles, openArtifactStorage, resolveArtifactFiles } from "./artifact-files";

export type DeleteParams = ArtifactFilesParams;

/**
 * Removes files a job wrote (an exported disk, a vDisk and its properties file): how a client
 * deletes an artifact, run by the connector that reaches the storage. An engine addition,
 * shaped like the IPS image operations. Files already gone are reported, not an error.
 */
export const deleteJob: JobDefinition<DeleteParams> = {
  type: "delete",
  summary: "Delete files from a storage location (the artifacts of earlier jobs), named directly or by jobId",
  body: artifactFilesBody("delete", "once this job completes"),
  resolve: resolveArtifactFiles,
  validate: checkArtifactFiles,
  steps: () => [
    { name: "validate", weight: 1 },
    { name: "remove", weight: 9 },
  ],
  async run(p, ctx) {
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
  },
  // The named job's outputs are gone now: its request may run again.
  releasesClientTokenOf: (p) => p.jobId,
};
