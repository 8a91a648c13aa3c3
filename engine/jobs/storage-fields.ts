import { existsSync } from "node:fs";
import { join } from "node:path";
import { FieldError } from "../errors";
import { checkFileName, checkLocation, parseLocation } from "../platforms";
import { allowedPathProblem } from "../platforms/local/file-roots";
import { SubmitContext } from "./definition";
import { DISK_FORMAT_NAMES } from "./schemas";
import { DiskFormat, formatFromFilename } from "../disk";

export interface LocationParam {
  location: string;
  credentialId?: string;
}

/** Checks a storage location, its file name and its credential; `prefix` is "input" or "output". */
export async function checkStorageFields(
  prefix: "input" | "output",
  location: LocationParam,
  fileName: string,
  ctx: SubmitContext,
): Promise<FieldError[]> {
  return [
    ...(await checkLocationFields(`${prefix}StorageLocation`, location, ctx)),
    ...checkFileName(fileName, `${prefix}ImageFilename`, location.location),
  ];
}

/** Checks a storage location and its credential; `field` names the location object. */
export async function checkLocationFields(field: string, location: LocationParam, ctx: SubmitContext): Promise<FieldError[]> {
  const credField = `${field}.credentialId`;
  const errors = checkLocation(location.location, `${field}.location`);
  const scheme = location.location.split(":", 1)[0]?.toLowerCase();
  if (scheme === "smb") {
    if (location.credentialId === undefined) {
      errors.push({ field: credField, message: "is required for smb:// locations: the id of a UsernamePassword credential" });
    } else {
      const type = await ctx.credentialType(location.credentialId);
      if (type === undefined) {
        errors.push({ field: credField, message: `names credential '${location.credentialId}', which does not exist; create it with POST /ips/credentials` });
      } else if (type !== "UsernamePassword") {
        errors.push({ field: credField, message: `must name a UsernamePassword credential; '${location.credentialId}' is of type ${type}` });
      }
    }
  } else if (scheme === "file" && location.credentialId !== undefined) {
    errors.push({ field: credField, message: "must be left out for file:// locations (they are read with the engine's own rights)" });
  }
  if (scheme === "file" && ctx.runsHere && errors.length === 0) {
    const parsed = parseLocation(location.location);
    if (parsed.scheme === "file") errors.push(...allowedPathProblem(parsed.dir, `${field}.location`));
  }
  return errors;
}

/** The input's format: given, or from the file name's extension. */
export function inputFormat(fileName: string, given: DiskFormat | undefined): DiskFormat | undefined {
  return given ?? formatFromFilename(fileName);
}

export function checkInputFormat(fileName: string, given: DiskFormat | undefined): FieldError[] {
  if (inputFormat(fileName, given)) return [];
  return [
    {
      field: "inputImageFormat",
      message: `is required: the format cannot be told from '${fileName}'; use one of ${DISK_FORMAT_NAMES.join(", ")} (or name the file with that extension)`,
    },
  ];
}

/** When the job runs on this machine, a missing local input is reported at submission. */
export function checkLocalInputExists(location: LocationParam, fileName: string, ctx: SubmitContext): FieldError[] {
  if (!ctx.runsHere || !location.location.toLowerCase().startsWith("file:")) return [];
  let path: string;
  try {
    const parsed = parseLocation(location.location);
    if (parsed.scheme !== "file") return [];
    path = join(parsed.dir, fileName);
  } catch {
    return []; // a malformed location is reported by checkLocation
  }
  if (existsSync(path)) return allowedPathProblem(path, "inputImageFilename");
  return [{ field: "inputImageFilename", message: `names ${path}, which does not exist` }];
}

/** The credentials a job refers to, for the connector that runs it. */
export function referencedCredentials(params: Record<string, unknown>): string[] {
  const ids = new Set<string>();
  // Every storage location of a job body is an object with an optional credentialId.
  for (const value of Object.values(params)) {
    const credentialId = (value as Partial<LocationParam> | null)?.credentialId;
    if (typeof value === "object" && typeof credentialId === "string") ids.add(credentialId);
  }
  if (typeof params.platformCredentialId === "string") ids.add(params.platformCredentialId);
  if (typeof params.vsphereCredentialId === "string") ids.add(params.vsphereCredentialId);
  return [...ids];
}

export async function checkPlatformCredential(id: string | undefined, ctx: SubmitContext): Promise<FieldError[]> {
  if (id === undefined) return [];
  if ((await ctx.credentialType(id)) !== undefined) return [];
  return [{ field: "platformCredentialId", message: `names credential '${id}', which does not exist; create it with POST /ips/credentials` }];
}

/** The cloud credential types, and what each holds (for messages). */
const CLOUD_CREDENTIALS = { Aws: "an Aws credential (accessKeyId, secretAccessKey)", Azure: "an Azure credential (tenantId, clientId, clientSecret)", Gcp: "a Gcp credential (serviceAccountKey)" };

/** platformCredentialId must name an existing credential of the type the job's platform takes. */
export async function checkCloudCredential(
  p: { platform: string; platformCredentialId: string },
  wanted: keyof typeof CLOUD_CREDENTIALS,
  ctx: SubmitContext,
): Promise<FieldError[]> {
  const id = p.platformCredentialId;
  const what = CLOUD_CREDENTIALS[wanted];
  const type = await ctx.credentialType(id);
  if (type === undefined) return [{ field: "platformCredentialId", message: `names credential '${id}', which does not exist; create ${what} with POST /ips/credentials` }];
  if (type !== wanted) return [{ field: "platformCredentialId", message: `must name ${what} for platform ${p.platform}; '${id}' is of type ${type}` }];
  return [];
}

/** The fields of a job that reads one disk from a location and writes one to another. */
export interface TransferParams {
  inputStorageLocation: LocationParam;
  inputImageFilename: string;
  inputImageFormat?: DiskFormat;
  outputStorageLocation: LocationParam;
  outputImageFilename: string;
  platformCredentialId?: string;
}

/** Every submission check of a transfer job, each problem naming its field. */
export async function checkTransferFields(p: TransferParams, ctx: SubmitContext): Promise<FieldError[]> {
  return [
    ...(await checkStorageFields("input", p.inputStorageLocation, p.inputImageFilename, ctx)),
    ...(await checkStorageFields("output", p.outputStorageLocation, p.outputImageFilename, ctx)),
    ...checkInputFormat(p.inputImageFilename, p.inputImageFormat),
    ...(await checkPlatformCredential(p.platformCredentialId, ctx)),
    ...checkLocalInputExists(p.inputStorageLocation, p.inputImageFilename, ctx),
  ];
}
