// What a preparation is asked to do, checked and normalized from IPS's prepare fields, and the
// guest facts it reports. Both OS modules (windows/, linux/) take a GuestPreparation.

import { FieldError } from "../errors";
import type { BootType } from "./find-guest";

export type InstallerKind = "pvs" | "mcsio" | "misa";

export interface StagedInstaller {
  kind: InstallerKind;
  /** The file's name in the installer location, and in the guest. */
  fileName: string;
  data: Buffer;
}

export interface GuestPreparation {
  provisioningType: "Mcs" | "Pvs";
  /** Controllers (FQDNs, space-separated groups as the VDA takes them), from xdReconfigure. */
  controllers?: string;
  portNumber?: number;
  enableHdxPorts?: boolean;
  domainUnjoin: boolean;
  /** In the order they run at first boot. */
  installers: StagedInstaller[];
  /** The engine's version, recorded in the guest. */
  engineVersion: string;
}

/** What the job reports about the guest (artifacts and the PrepareJob resource's outputs). */
export interface GuestFacts {
  osFamily: "Windows" | "Linux";
  productName?: string;
  version?: string;
  build?: string;
  edition?: string;
  architecture?: string;
  hostname?: string;
  domain?: string;
  workgroup?: string;
  vdaVersion?: string;
  bootType: BootType;
  /** Partition number of the system volume (0: a disk without a partition table). */
  systemPartition: number;
  fileSystem: string;
}

/** The order installers run in at first boot: the PVS target device, then MCS I/O, then the machine identity agent. */
export const INSTALL_ORDER: InstallerKind[] = ["pvs", "mcsio", "misa"];

export interface XdReconfigure {
  controllers?: string;
  portNumber?: number;
  enableHdxPorts?: boolean;
}

const XD_NAMES = ["controllers", "portnumber", "enable_hdx_ports"];

/** IPS's xdReconfigure list, checked: each name once, each value of its kind. */
export function parseXdReconfigure(list: { ParameterName: string; ParameterValue: string }[] | undefined, errors: FieldError[]): XdReconfigure {
  const out: XdReconfigure = {};
  const seen = new Set<string>();
  (list ?? []).forEach((p, i) => {
    const field = `xdReconfigure[${i}]`;
    const name = p.ParameterName.toLowerCase();
    if (!XD_NAMES.includes(name)) {
      errors.push({ field: `${field}.ParameterName`, message: `is '${p.ParameterName}'; allowed: ${XD_NAMES.join(", ")}` });
      return;
    }
    if (seen.has(name)) errors.push({ field: `${field}.ParameterName`, message: `repeats '${name}'; give each parameter once` });
    seen.add(name);
    const value = p.ParameterValue.trim();
    if (name === "controllers") {
      // FQDNs or host names, space-separated; parentheses group them as the VDA's ListOfDDCs does.
      if (!/^[()A-Za-z0-9.\- ]+$/.test(value) || !/[A-Za-z0-9]/.test(value)) {
        errors.push({ field: `${field}.ParameterValue`, message: "must be controller names (FQDNs) separated by spaces, e.g. 'ddc1.example.com ddc2.example.com'" });
      } else out.controllers = value.replace(/\s+/g, " ");
    } else if (name === "portnumber") {
      const port = Number(value);
      if (!/^\d+$/.test(value) || port < 1 || port > 65535) errors.push({ field: `${field}.ParameterValue`, message: "must be a TCP port number from 1 to 65535" });
      else out.portNumber = port;
    } else {
      if (!/^(true|false)$/i.test(value)) errors.push({ field: `${field}.ParameterValue`, message: "must be 'true' or 'false'" });
      else out.enableHdxPorts = value.toLowerCase() === "true";
    }
  });
  return out;
}
