import { JobDefinition } from "../definition";
import { ArtifactFilesParams, artifactFilesBody, checkArtifactFiles, openArtifactStorage, resolveArtifactFiles } from "./artifact-files";

export type InspectParams = ArtifactFilesParams;

/** One file as an inspect job found it. */
export interface InspectedFile {
  name: string;
  exists: boolean;
  /** Present when the file exists. */
  sizeBytes?: number;
}

/**
 * Reports whether files (the outputs of an earlier job) still exist and their sizes: how a
 * client refreshes an artifact it cannot reach itself (the connector reaches the share). A
 * missing file is a result, not a failure; an unreachable share fails with the share codes.
 */
export const inspectJob: JobDefinition<InspectParams> = {
  type: "inspect",
  summary: "Report whether files (the artifacts of earlier jobs) exist and their sizes, named directly or by jobId",
  body: artifactFilesBody("inspect", "if this job completes and finds any of its files missing"),
  resolve: resolveArtifactFiles,
  validate: checkArtifactFiles,
  steps: () => [
    { name: "validate", weight: 1 },
    { name: "stat", weight: 4 },
  ],
  async run(p, ctx) {
    const storage = openArtifactStorage(p, ctx);
    await ctx.step("validate", () => storage.probe(ctx.signal));
    const files = await ctx.step("stat", async (progress) => {
      const found: InspectedFile[] = [];
      for (const [i, name] of p.filenames.entries()) {
        const stat = await storage.stat(name, ctx.signal);
        // A directory under the output's name is not the output.
        found.push(stat && !stat.isDirectory ? { name, exists: true, sizeBytes: stat.size } : { name, exists: false });
        progress((i + 1) / p.filenames.length);
      }
      return found;
    });
    ctx.setArtifacts({ location: storage.uri, files });
  },
  // Outputs found gone: the named job's request may run again.
  releasesClientTokenOf: (p, artifacts) => (p.jobId !== undefined && anyMissing(artifacts.files) ? p.jobId : undefined),
};

function anyMissing(files: unknown): boolean {
  return Array.isArray(files) && files.some((f) => (f as Partial<InspectedFile> | null)?.exists === false);
}
