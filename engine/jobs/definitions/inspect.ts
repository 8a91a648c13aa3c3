import { JobDefinition, RunContext } from "../definition";
import {
  ArtifactFilesParams,
  ArtifactParams,
  artifactFilesBody,
  checkArtifacts,
  CloudArtifactParams,
  isCloudArtifacts,
  openArtifactStorage,
  openCloudOps,
  resolveArtifactFiles,
} from "./artifact-files";

export type InspectParams = ArtifactParams;

/** One file as an inspect job found it. */
export interface InspectedFile {
  name: string;
  exists: boolean;
  /** Present when the file exists. */
  sizeBytes?: number;
}

/** One cloud resource (an upload job's snapshot or AMI) as an inspect job found it. */
export interface InspectedCloudResource {
  /** aws: "snapshot" | "image"; azure: "disk" | "image" | "snapshot"; gcp: "image" | "object". */
  kind: string;
  id: string;
  exists: boolean;
  /** The snapshot's or AMI's state, when it exists. */
  state?: string;
}

/**
 * Reports whether the outputs of an earlier job still exist: files (with their sizes) or an
 * upload job's snapshot and AMI. How a client refreshes an artifact it cannot reach itself
 * (the connector reaches the share or the cloud). Something missing is a result, not a
 * failure; an unreachable share or cloud fails with the usual codes.
 */
export const inspectJob: JobDefinition<InspectParams> = {
  type: "inspect",
  summary: "Report whether the artifacts of earlier jobs exist: files named directly or by jobId, or an upload job's AMI and snapshot by jobId",
  body: artifactFilesBody("inspect", "if this job completes and finds any of its files (or cloud resources) missing"),
  resolve: resolveArtifactFiles,
  validate: checkArtifacts,
  steps: () => [
    { name: "validate", weight: 1 },
    { name: "stat", weight: 4 },
  ],
  run: (p, ctx) => (isCloudArtifacts(p) ? inspectCloudResources(p, ctx) : inspectFiles(p, ctx)),
  // Outputs found gone: the named job's request may run again.
  releasesClientTokenOf: (p, artifacts) =>
    p.jobId !== undefined && (anyMissing(artifacts.files) || anyMissing(artifacts.cloudResources)) ? p.jobId : undefined,
};

async function inspectFiles(p: ArtifactFilesParams, ctx: RunContext): Promise<void> {
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
}

async function inspectCloudResources(p: CloudArtifactParams, ctx: RunContext): Promise<void> {
  const ops = openCloudOps(p, ctx);
  try {
    await ctx.step("validate", () => ops.probe(ctx.signal));
    const cloudResources = await ctx.step("stat", async (progress) => {
      const found: InspectedCloudResource[] = [];
      for (const [i, ref] of p.cloudResources.entries()) {
        const { exists, state } = await ops.describe(ref, ctx.signal);
        found.push(state !== undefined ? { kind: ref.kind, id: ref.id, exists, state } : { kind: ref.kind, id: ref.id, exists });
        progress((i + 1) / p.cloudResources.length);
      }
      return found;
    });
    ctx.setArtifacts({ platform: p.platform, ...(p.region ? { region: p.region } : {}), ...(p.project ? { project: p.project } : {}), cloudResources });
  } finally {
    ops.close();
  }
}

function anyMissing(items: unknown): boolean {
  return Array.isArray(items) && items.some((f) => (f as { exists?: boolean } | null)?.exists === false);
}
