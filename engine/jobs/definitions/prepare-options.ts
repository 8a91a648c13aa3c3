import { FieldError } from "../../errors";

export interface PrepareOptions {
  provisioningType?: "Mcs" | "Pvs";
  xdReconfigure?: { ParameterName: string; ParameterValue: string }[];
  domainUnjoin?: boolean;
  installMisa?: boolean;
  installMcsio?: boolean;
  installPvs?: string;
  networkIsolation?: boolean;
  securityGroupIds?: string[];
  networkTags?: string[];
  createAmi?: boolean;
  outputSizeMb?: number;
}

const GUEST_EDIT = "needs offline editing of the guest (registry, files), which this engine does not do yet";
const CLOUD_ONLY = "places the preparation VM in a cloud; this job runs on storage locations (file://, smb://), where there is nothing to place";

/**
 * Options of IPS prepare that change the guest or need a cloud. Asking for one is refused with
 * a 400 naming it: silently skipping a domain unjoin would publish a disk that is still joined.
 */
export function unsupportedPrepareOptions(p: PrepareOptions): FieldError[] {
  const errors: FieldError[] = [];
  const refuse = (field: string, why: string) => errors.push({ field, message: `is not supported yet: it ${why}. Leave it out (or false/empty).` });
  if (p.xdReconfigure && p.xdReconfigure.length > 0) refuse("xdReconfigure", GUEST_EDIT);
  if (p.domainUnjoin) refuse("domainUnjoin", GUEST_EDIT);
  if (p.installMisa) refuse("installMisa", GUEST_EDIT);
  if (p.installMcsio) refuse("installMcsio", GUEST_EDIT);
  if (p.installPvs) refuse("installPvs", GUEST_EDIT);
  if (p.networkIsolation) refuse("networkIsolation", CLOUD_ONLY);
  if (p.securityGroupIds && p.securityGroupIds.length > 0) refuse("securityGroupIds", CLOUD_ONLY);
  if (p.networkTags && p.networkTags.length > 0) refuse("networkTags", CLOUD_ONLY);
  if (p.createAmi) refuse("createAmi", "creates an AWS AMI; this job's output is a disk file");
  return errors;
}

export const MIB = 1024 * 1024;
