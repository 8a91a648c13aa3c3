// IPS's prepare fields, as the prepare and prepareAndPublish jobs take them: checked at
// submission, refused where they make no sense offline, and turned into the GuestPreparation
// that engine/prepare carries out.

import { readFile } from "node:fs/promises";
import * as nodePath from "node:path";
import { FieldError, jobFailure } from "../../errors";
import { openStorage } from "../../platforms";
import { INSTALLER_EXTENSIONS } from "../../prepare/installers";
import { GuestPreparation, INSTALL_ORDER, InstallerKind, parseXdReconfigure, StagedInstaller } from "../../prepare/request";
import { packageVersion } from "../../package-root";
import { RunContext, SubmitContext } from "../definition";
import { checkLocationFields, LocationParam } from "../storage-fields";

export interface PrepareOptions {
  provisioningType?: "Mcs" | "Pvs";
  xdReconfigure?: { ParameterName: string; ParameterValue: string }[];
  domainUnjoin?: boolean;
  installMisa?: boolean;
  installMcsio?: boolean;
  /** IPS: the PVS target device version to install; recorded, the installer is pvsInstaller. */
  installPvs?: string;
  installerStorageLocation?: LocationParam;
  misaInstaller?: string;
  mcsioInstaller?: string;
  pvsInstaller?: string;
  /** Format and geometry only, for a disk that holds no OS (a data disk). */
  skipGuestPreparation?: boolean;
  networkIsolation?: boolean;
  securityGroupIds?: string[];
  networkTags?: string[];
  ceVmSku?: string;
  createAmi?: boolean;
  outputSizeMb?: number;
}

const NO_VM =
  "places or sizes the Compositing Engine VM IPS boots to prepare an image; imageport prepares the image offline, editing its file system and registry without any VM, so there is nothing to place or size";

/** Options that make no sense offline: refused with a 400 naming each. */
export function unsupportedPrepareOptions(p: PrepareOptions): FieldError[] {
  const errors: FieldError[] = [];
  const refuse = (field: string, why: string) => errors.push({ field, message: `is not supported: it ${why}. Leave it out (or false/empty).` });
  if (p.ceVmSku) refuse("ceVmSku", NO_VM);
  if (p.networkIsolation) refuse("networkIsolation", NO_VM);
  if (p.securityGroupIds && p.securityGroupIds.length > 0) refuse("securityGroupIds", NO_VM);
  if (p.networkTags && p.networkTags.length > 0) refuse("networkTags", NO_VM);
  if (p.createAmi) refuse("createAmi", "creates an AWS AMI; this job's output is a disk file (upload it with $upload to make an AMI)");
  return errors;
}

interface InstallerField {
  kind: InstallerKind;
  flag: "installPvs" | "installMcsio" | "installMisa";
  file: "pvsInstaller" | "mcsioInstaller" | "misaInstaller";
  provisioning: "Mcs" | "Pvs";
}

const INSTALLER_FIELDS: InstallerField[] = [
  { kind: "pvs", flag: "installPvs", file: "pvsInstaller", provisioning: "Pvs" },
  { kind: "mcsio", flag: "installMcsio", file: "mcsioInstaller", provisioning: "Mcs" },
  { kind: "misa", flag: "installMisa", file: "misaInstaller", provisioning: "Mcs" },
];

const GUEST_FIELDS = ["xdReconfigure", "domainUnjoin", "installMisa", "installMcsio", "installPvs", "installerStorageLocation", "misaInstaller", "mcsioInstaller", "pvsInstaller"] as const;

/** Submission checks of the prepare fields, each problem naming its field. */
export async function checkPrepareOptions(p: PrepareOptions, ctx: SubmitContext): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  if (p.skipGuestPreparation) {
    for (const field of GUEST_FIELDS) {
      const value = p[field];
      if (value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0)) {
        errors.push({ field, message: "cannot be combined with skipGuestPreparation: true (it changes the guest, which that setting leaves alone)" });
      }
    }
    return errors;
  }
  parseXdReconfigure(p.xdReconfigure, errors);
  let wantsInstaller = false;
  for (const f of INSTALLER_FIELDS) {
    const asked = f.flag === "installPvs" ? p.installPvs !== undefined && p.installPvs !== "" : p[f.flag] === true;
    const file = p[f.file];
    if (asked && p.provisioningType !== f.provisioning) {
      errors.push({ field: f.flag, message: `applies to provisioningType ${f.provisioning} only (this request prepares for ${p.provisioningType})` });
    }
    if (asked && file === undefined) errors.push({ field: f.file, message: `is required with ${f.flag}: the installer's file name in installerStorageLocation` });
    if (!asked && file !== undefined) errors.push({ field: f.file, message: `is given but ${f.flag} is not set; set ${f.flag} or leave ${f.file} out` });
    if (file !== undefined) {
      const ext = nodePath.extname(file).toLowerCase();
      const allowed = [...INSTALLER_EXTENSIONS.windows, ...INSTALLER_EXTENSIONS.linux];
      if (!allowed.includes(ext) || file.includes("/") || file.includes("\\") || file.includes('"')) {
        errors.push({ field: f.file, message: `must be a plain file name ending in one of ${allowed.join(", ")} (Windows: msi, exe, ps1; Linux: deb, rpm, sh)` });
      }
    }
    wantsInstaller ||= asked;
  }
  if (wantsInstaller && p.installerStorageLocation === undefined) {
    errors.push({ field: "installerStorageLocation", message: "is required with installPvs, installMcsio or installMisa: the directory that holds the installers" });
  } else if (p.installerStorageLocation !== undefined) {
    if (!wantsInstaller) errors.push({ field: "installerStorageLocation", message: "is given but no installer is asked for (installPvs, installMcsio, installMisa)" });
    errors.push(...(await checkLocationFields("installerStorageLocation", p.installerStorageLocation, ctx)));
  }
  return errors;
}

/** The preparation the job asks for, with the installers read from their location. */
export async function guestPreparationFor(p: PrepareOptions & { provisioningType: "Mcs" | "Pvs" }, ctx: InstallerContext): Promise<GuestPreparation> {
  const xd = parseXdReconfigure(p.xdReconfigure, []);
  const installers: StagedInstaller[] = [];
  for (const kind of INSTALL_ORDER) {
    const f = INSTALLER_FIELDS.find((x) => x.kind === kind)!;
    const fileName = p[f.file];
    if (fileName === undefined || !p.installerStorageLocation) continue;
    installers.push({ kind, fileName, data: await readInstaller(p.installerStorageLocation, fileName, ctx) });
  }
  return {
    provisioningType: p.provisioningType,
    ...xd,
    domainUnjoin: p.domainUnjoin === true,
    installers,
    engineVersion: packageVersion() ?? "unknown",
  };
}

/** What reading the installers needs (a job's or a dry run's context). */
type InstallerContext = Pick<RunContext, "credential" | "workDir" | "signal">;

async function readInstaller(location: LocationParam, fileName: string, ctx: InstallerContext): Promise<Buffer> {
  const storage = openStorage(location.location, location.credentialId ? ctx.credential(location.credentialId) : undefined);
  if (!(await storage.stat(fileName, ctx.signal))) {
    throw jobFailure("INSTALLER_NOT_FOUND", `The installer '${fileName}' does not exist in ${storage.uri}. Check installerStorageLocation and the installer's file name.`);
  }
  const copy = await storage.fetch(fileName, ctx.workDir, { signal: ctx.signal });
  try {
    return await readFile(copy.path);
  } finally {
    await copy.release();
  }
}
