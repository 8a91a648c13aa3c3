import { FieldError, ValidationFailedError } from "../../errors";
import { checkFileName, openStorage, Storage } from "../../platforms";
import { ResolveContext, RunContext, SubmitContext } from "../definition";
import { JobType } from "../model";
import { commonProperties, objectSchema, storageLocation } from "../schemas";
import { checkLocationFields, LocationParam, TransferParams } from "../storage-fields";
import { checkRegionReachable, describeResource, openAwsClients, removalOrder, removeResource } from "../../platforms/aws";
import type { CloudResourceRef as AwsResourceRef } from "../../platforms/aws";
import { azureRemovalOrder, describeAzureResource, openArmClient, removeAzureResource } from "../../platforms/azure";
import type { AzureResourceRef } from "../../platforms/azure";
import { gcpCredentialProblem, gcpRefs, openGcpOps } from "./artifact-gcp";
import { openVsphereOps, vsphereConnectionOf, vsphereCredentialProblem, vsphereRefs } from "./artifact-vsphere";
import type { VsphereConnectionFields } from "../vsphere-connection";
import { propertiesFileName } from "./publish";

// $delete and $inspect act on files: named directly ({storageLocation, filenames}) or as the
// outputs of an earlier job ({jobId}). The jobId form is resolved at submission, so the stored
// job carries the files and the location's credential, and connectors need no store access.

/** The stored parameters of both forms (the jobId form keeps jobId, for the token rule). */
export interface ArtifactFilesParams {
  jobId?: string;
  storageLocation: LocationParam;
  filenames: string[];
  resourceLocationId?: string;
}

/** One resource an upload or createImage job made: kind and id as its platform names them. */
export interface CloudResourceRef {
  /** aws: "snapshot" | "image"; azure: "disk" | "image". */
  kind: string;
  /** aws: the snapshot or AMI id; azure: the ARM resource id; gcp: the image or object name. */
  id: string;
  /** gcp: the image's project. */
  project?: string;
  /** gcp: the object's bucket. */
  bucket?: string;
  /** vsphere: the VM's name when it was made (for messages). */
  name?: string;
  /** vsphere: the VM's instanceUuid, checked before the id is trusted. */
  instanceUuid?: string;
}

type CloudPlatform = "aws" | "azure" | "gcp" | "vsphere";

/** Per platform: the credential type it needs and how to open a session for a job. */
const CLOUD_PLATFORMS: Record<CloudPlatform, { credentialType: string; open(p: CloudArtifactParams, ctx: RunContext): CloudOps }> = {
  aws: {
    credentialType: "Aws",
    open(p, ctx) {
      const clients = openAwsClients(ctx.credential(p.platformCredentialId!), p.region!);
      return {
        where: clients.region,
        probe: (signal) => checkRegionReachable(clients, signal),
        describe: (ref, signal) => describeResource(clients, ref as AwsResourceRef, signal),
        remove: (ref, signal) => removeResource(clients, ref as AwsResourceRef, signal),
        order: (refs) => removalOrder(refs as AwsResourceRef[]),
        close: () => clients.destroy(),
      };
    },
  },
  azure: {
    credentialType: "Azure",
    open(p, ctx) {
      const arm = openArmClient(ctx.credential(p.platformCredentialId!));
      return {
        where: p.region!,
        probe: (signal) => arm.probe(signal),
        describe: async (ref, signal) => {
          const { exists, state } = await describeAzureResource(arm, ref as AzureResourceRef, signal);
          return state !== undefined ? { exists, state } : { exists };
        },
        remove: (ref, signal) => removeAzureResource(arm, ref as AzureResourceRef, signal),
        order: (refs) => azureRemovalOrder(refs as AzureResourceRef[]),
        close: () => undefined,
      };
    },
  },
  gcp: { credentialType: "Gcp", open: openGcpOps },
  vsphere: { credentialType: "UsernamePassword", open: openVsphereOps },
};

const isCloudPlatform = (value: unknown): value is CloudPlatform => typeof value === "string" && Object.hasOwn(CLOUD_PLATFORMS, value);

/** The stored parameters naming the cloud resources of a complete upload or createImage job (jobId form only). */
export interface CloudArtifactParams extends VsphereConnectionFields {
  jobId: string;
  platform: CloudPlatform;
  /** aws, azure: always; gcp: the image's storage location, when one was given. */
  region?: string;
  /** gcp: the image's project. */
  project?: string;
  /** aws, azure, gcp (vsphere: the vsphere* connection fields the job used, vsphereCredentialId among them). */
  platformCredentialId?: string;
  cloudResources: CloudResourceRef[];
  resourceLocationId?: string;
}

/** What $inspect and $delete do with a job's cloud resources, per platform. */
export interface CloudOps {
  /** Where the resources are, for messages ("us-east-1", "project p"). */
  where: string;
  probe(signal: AbortSignal): Promise<void>;
  describe(ref: CloudArtifactParams["cloudResources"][number], signal: AbortSignal): Promise<{ exists: boolean; state?: string }>;
  /** False when it was already gone. */
  remove(ref: CloudArtifactParams["cloudResources"][number], signal: AbortSignal): Promise<boolean>;
  order(refs: CloudArtifactParams["cloudResources"]): CloudArtifactParams["cloudResources"];
  close(): void;
}

export type ArtifactParams = ArtifactFilesParams | CloudArtifactParams;

export function isCloudArtifacts(p: ArtifactParams): p is CloudArtifactParams {
  return (p as Partial<CloudArtifactParams>).cloudResources !== undefined;
}

/** What each job type writes, as file names in its outputStorageLocation. */
const OUTPUT_FILES: Partial<Record<JobType, (p: TransferParams) => string[]>> = {
  export: (p) => [p.outputImageFilename],
  prepare: (p) => [p.outputImageFilename],
  publish: (p) => [p.outputImageFilename, propertiesFileName(p.outputImageFilename)],
  prepareAndPublish: (p) => [p.outputImageFilename, propertiesFileName(p.outputImageFilename)],
};
const TYPES_WITH_FILES = Object.keys(OUTPUT_FILES).join(", ");
/** Job types whose outputs are cloud resources (recorded as artifacts.cloudResources). */
const TYPES_WITH_CLOUD_OUTPUTS: readonly JobType[] = ["upload", "createImage"];
const TYPES_WITH_OUTPUTS = `${TYPES_WITH_FILES}, ${TYPES_WITH_CLOUD_OUTPUTS.join(", ")}`;

const FORMS = "give either jobId (the outputs of that job) or storageLocation with filenames";

/**
 * The request body of $delete / $inspect: exactly one of the two forms (checked by
 * resolveArtifactFiles). `releases` says when the named job gives its clientToken up.
 */
export function artifactFilesBody(verb: string, releases: string): object {
  return {
    ...objectSchema(
      {
        ...commonProperties,
        jobId: {
          type: "string",
          minLength: 1,
          maxLength: 64,
          description:
            `A complete ${TYPES_WITH_OUTPUTS} job whose outputs to ${verb} (for publish jobs: the vDisk and its properties file; ` +
            "for upload jobs: its cloud resources (aws: AMI and snapshot; azure: image and disk; gcp: image and archive); for createImage jobs: the AMI, snapshot or vSphere VM it made; through the job's platformCredentialId unless one is given here, or for a VM through that job's vCenter connection and vsphereCredentialId). " +
            "Resolved at submission into storageLocation and filenames. Not with storageLocation/filenames. " +
            "The job runs in that job's resource location unless resourceLocationId says otherwise.",
        },
        storageLocation: { ...storageLocation, description: `The directory of the files to ${verb}; with filenames, instead of jobId.` },
        filenames: {
          type: "array",
          minItems: 1,
          maxItems: 16,
          uniqueItems: true,
          items: { type: "string", minLength: 1, maxLength: 255 },
          description: "Plain file names in storageLocation; with storageLocation, instead of jobId.",
        },
      },
      [],
    ),
    description:
      "Exactly one of two forms: {jobId} (the outputs of that job, resolved at submission) or {storageLocation, filenames}. " +
      `With jobId, ${releases}, the named job gives its clientToken up: the request that made it starts a new job when sent again.`,
  };
}

/** Checks the form and turns {jobId} into the files that job wrote. */
export async function resolveArtifactFiles(p: ArtifactFilesParams, ctx: ResolveContext): Promise<ArtifactParams> {
  const given = (["storageLocation", "filenames"] as const).filter((f) => p[f] !== undefined);
  if (p.jobId === undefined) {
    const missing = (["storageLocation", "filenames"] as const).filter((f) => p[f] === undefined);
    if (missing.length > 0) {
      throw new ValidationFailedError(missing.map((field) => ({ field, message: `is required unless jobId is given: ${FORMS}` })));
    }
    return p;
  }
  if (given.length > 0) {
    throw new ValidationFailedError(
      ["jobId", ...given].map((field) => ({ field, message: `cannot be combined with ${field === "jobId" ? given.join(" and ") : "jobId"}: ${FORMS}` })),
    );
  }
  const source = await ctx.job(p.jobId);
  if (!source) throw jobIdProblem(`names no job: there is no job '${p.jobId}' for this customer; list jobs with GET /ips/jobs`);
  const files = OUTPUT_FILES[source.type];
  if (!files && !TYPES_WITH_CLOUD_OUTPUTS.includes(source.type)) {
    throw jobIdProblem(`names a ${source.type} job, which writes no files; only the outputs of ${TYPES_WITH_OUTPUTS} jobs can be named by jobId (name other files with storageLocation and filenames)`);
  }
  if (source.status !== "complete") {
    throw jobIdProblem(
      `names job '${source.id}', which is ${source.status}; only a complete job's outputs can be named ` +
        "(a failed or cancelled job left none; wait for a running one with GET /ips/jobs/" + source.id + ")",
    );
  }
  if (!files) return resolveCloudResources(p, source.id, source.parameters, source.additionalInfo.artifacts, source.resourceLocationId);
  const written = source.parameters as unknown as TransferParams;
  const { location, credentialId } = written.outputStorageLocation;
  return {
    ...p,
    storageLocation: credentialId === undefined ? { location } : { location, credentialId },
    filenames: files(written),
    resourceLocationId: p.resourceLocationId ?? source.resourceLocationId,
  };
}

/** An upload or createImage job's cloud resources, from its recorded artifacts. */
function resolveCloudResources(
  p: ArtifactFilesParams,
  jobId: string,
  params: Record<string, unknown>,
  artifacts: Record<string, unknown>,
  resourceLocationId: string,
): CloudArtifactParams {
  const given = (p as { platformCredentialId?: string }).platformCredentialId;
  if (artifacts.platform === "vsphere") {
    if (given !== undefined) {
      throw new ValidationFailedError([{ field: "platformCredentialId", message: `cannot be given for job '${jobId}': its VM is reached with the vCenter connection and vsphereCredentialId that job used` }]);
    }
    const refs = vsphereRefs(artifacts);
    if (!refs) throw jobIdProblem(`names createImage job '${jobId}', which recorded no usable VM`);
    return { jobId, platform: "vsphere", ...vsphereConnectionOf(params), cloudResources: refs, resourceLocationId: p.resourceLocationId ?? resourceLocationId };
  }
  const common = {
    jobId,
    platformCredentialId: given ?? String(params.platformCredentialId),
    resourceLocationId: p.resourceLocationId ?? resourceLocationId,
  };
  if (artifacts.platform === "gcp") {
    const refs = gcpRefs(artifacts);
    if (!refs) throw jobIdProblem(`names upload job '${jobId}', which recorded no usable cloud resources`);
    return {
      ...common,
      platform: "gcp",
      ...(typeof artifacts.region === "string" ? { region: artifacts.region } : {}),
      ...(typeof artifacts.project === "string" ? { project: artifacts.project } : {}),
      cloudResources: refs,
    };
  }
  const refs = Array.isArray(artifacts.cloudResources) ? (artifacts.cloudResources as CloudResourceRef[]) : [];
  if (!isCloudPlatform(artifacts.platform) || typeof artifacts.region !== "string" || refs.length === 0) {
    throw jobIdProblem(`names job '${jobId}', which recorded no cloud resources (it ran on an engine without cloudResources artifacts)`);
  }
  return { ...common, platform: artifacts.platform, region: artifacts.region, cloudResources: refs.map(({ kind, id }) => ({ kind, id })) };
}

/** Submission checks of the stored form; problems of a resolved location are reported under jobId. */
export async function checkArtifacts(p: ArtifactParams, ctx: SubmitContext): Promise<FieldError[]> {
  if (!isCloudArtifacts(p)) return checkArtifactFiles(p, ctx);
  const wanted = CLOUD_PLATFORMS[p.platform].credentialType;
  if (p.platform === "vsphere") return vsphereCredentialProblem(p, await ctx.credentialType(p.vsphereCredentialId ?? ""));
  const type = await ctx.credentialType(p.platformCredentialId!);
  if (p.platform === "gcp") return gcpCredentialProblem(p, type);
  if (type === undefined) {
    return [{ field: "platformCredentialId", message: `names credential '${p.platformCredentialId}' (the one job '${p.jobId}' used unless given), which does not exist; create it again or name another ${wanted} credential` }];
  }
  if (type !== wanted) return [{ field: "platformCredentialId", message: `must name an ${wanted} credential; '${p.platformCredentialId}' is of type ${type}` }];
  return [];
}

export function openCloudOps(p: CloudArtifactParams, ctx: RunContext): CloudOps {
  return CLOUD_PLATFORMS[p.platform].open(p, ctx);
}

async function checkArtifactFiles(p: ArtifactFilesParams, ctx: SubmitContext): Promise<FieldError[]> {
  const problems = [
    ...(await checkLocationFields("storageLocation", p.storageLocation, ctx)),
    ...p.filenames.flatMap((name, i) => checkFileName(name, `filenames.${i}`, p.storageLocation.location)),
  ];
  if (p.jobId === undefined) return problems;
  // The caller sent only jobId: say which recorded output field is the problem.
  return problems.map((e) => ({ field: "jobId", message: `names job '${p.jobId}', whose recorded output ${e.field} ${e.message}` }));
}

export function openArtifactStorage(p: ArtifactFilesParams, ctx: RunContext): Storage {
  const credential = p.storageLocation.credentialId ? ctx.credential(p.storageLocation.credentialId) : undefined;
  return openStorage(p.storageLocation.location, credential);
}

function jobIdProblem(message: string): ValidationFailedError {
  return new ValidationFailedError([{ field: "jobId", message }]);
}
