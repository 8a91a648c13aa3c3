// JSON schemas of the job request bodies: fastify validates with them and the OpenAPI document
// is generated from them, so the two cannot drift. Field names follow the IPS API.
import { CREDENTIAL_ID_PATTERN } from "../api/schemas/credentials";

export const DISK_FORMAT_NAMES = ["raw", "qcow2", "vmdk", "vhd", "vhdx"] as const;

const credentialId = { type: "string", pattern: CREDENTIAL_ID_PATTERN };

export const storageLocation = {
  type: "object",
  description: "A directory: file:///absolute/dir/ or smb://host[:port]/share/path/ (with a UsernamePassword credentialId).",
  properties: {
    location: { type: "string", minLength: 1, maxLength: 2048 },
    credentialId,
  },
  required: ["location"],
  additionalProperties: false,
};

const fileName = { type: "string", minLength: 1, maxLength: 255 };

/** Fields every job takes (IPS Format-JobData). */
export const commonProperties = {
  resourceLocationId: {
    type: "string",
    pattern: CREDENTIAL_ID_PATTERN,
    description: "Where the job runs; default 'local' (the engine's own connector).",
  },
  platformCredentialId: credentialId,
  tags: { type: "object", additionalProperties: { type: "string", maxLength: 256 }, maxProperties: 50 },
  prefix: { type: "string", maxLength: 32, description: "IPS: the name prefix of its Compositing Engine VM. Refused unless empty: imageport makes no VM." },
  clientToken: {
    type: "string",
    pattern: "^[A-Za-z0-9._:-]{1,128}$",
    description:
      "Idempotency token: while a job with this token exists and has not failed or been cancelled, the same request returns that job (200) instead of starting another. " +
      "A complete job gives its token up once a $delete {jobId} of it completes, or a $inspect {jobId} of it finds any of its files missing.",
  },
  timeout: { type: "integer", minimum: 1, maximum: 604800, description: "Seconds the job may run once started; default 7200." },
};

/** Input disk on a storage location (the IPS convert/upgrade input fields). */
export const inputProperties = {
  inputStorageLocation: storageLocation,
  inputImageFilename: fileName,
  inputImageFormat: { type: "string", enum: DISK_FORMAT_NAMES, description: "Default: from the file name's extension." },
};

export const outputProperties = {
  outputStorageLocation: storageLocation,
  outputImageFilename: fileName,
  overwriteOutput: { type: "boolean", description: "Replace an existing output file; default false." },
};

/** Preparation options of IPS that this engine does not perform yet: refused, never ignored. */
export const prepareOptionProperties = {
  provisioningType: { type: "string", enum: ["Mcs", "Pvs"] },
  xdReconfigure: {
    type: "array",
    maxItems: 20,
    items: {
      type: "object",
      properties: { ParameterName: { type: "string", maxLength: 64 }, ParameterValue: { type: "string", maxLength: 1024 } },
      required: ["ParameterName", "ParameterValue"],
      additionalProperties: false,
    },
  },
  domainUnjoin: { type: "boolean" },
  installMisa: { type: "boolean" },
  installMcsio: { type: "boolean" },
  installPvs: { type: "string", maxLength: 64, description: "The PVS target device version to install (recorded); the installer is pvsInstaller." },
  installerStorageLocation: { ...storageLocation, description: "The directory holding the installers named by pvsInstaller, mcsioInstaller, misaInstaller." },
  pvsInstaller: { ...fileName, description: "PVS target device installer (Pvs): .msi, .exe or .ps1 for Windows, .deb, .rpm or .sh for Linux." },
  mcsioInstaller: { ...fileName, description: "MCS I/O installer (Mcs)." },
  misaInstaller: { ...fileName, description: "Machine identity service agent installer (Mcs)." },
  skipGuestPreparation: { type: "boolean", description: "Format and geometry only: for a disk that holds no OS. Default false." },
  ceVmSku: { type: "string", maxLength: 128, description: "Refused: imageport prepares without a VM." },
  networkIsolation: { type: "boolean" },
  securityGroupIds: { type: "array", maxItems: 20, items: { type: "string", maxLength: 256 } },
  networkTags: { type: "array", maxItems: 64, items: { type: "string", maxLength: 64 } },
  createAmi: { type: "boolean" },
  outputSizeMb: { type: "integer", minimum: 1, maximum: 67108864, description: "Grow the output disk to this size (MiB)." },
};

export function objectSchema(properties: Record<string, object>, required: string[]) {
  return { type: "object", properties, required, additionalProperties: false };
}
