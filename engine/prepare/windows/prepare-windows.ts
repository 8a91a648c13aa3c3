// Windows, offline: the SYSTEM and SOFTWARE hives are copied out of the volume, read for the
// guest's facts, edited with hivex (registry.ts), and written back; what needs the running OS
// goes into the first-boot script (first-boot.ts).
//   Both kinds:  HKLM\SOFTWARE\Citrix\ImagePortability (ProvisioningType, PreparedBy);
//                controllers -> SOFTWARE\Citrix\VirtualDesktopAgent\ListOfDDCs (where the VDA reads them);
//                portnumber / enable_hdx_ports -> XenDesktopVdaSetup.exe /reconfigure at first boot
//                (the VDA's own tool: the port lives in its service configuration and firewall rules);
//                domainUnjoin -> Win32_ComputerSystem.UnjoinDomainOrWorkgroup at first boot.
//   Mcs: may stage MCS I/O and the machine identity agent; Pvs: may stage the PVS target device.

import { promises as fs } from "node:fs";
import * as nodePath from "node:path";
import { jobFailure } from "../../errors";
import { Change, RecordedRegistryValue, RecordingVolume } from "../change-record";
import { cmdQuote, FirstBootStep, WINDOWS_DIR, WINDOWS_SCRIPT, windowsScript } from "../first-boot";
import { stageInstallers } from "../installers";
import { FoundGuest } from "../find-guest";
import { GuestFacts, GuestPreparation } from "../request";
import { Hive, openHive, RegistryValue } from "./registry";

const CONFIG_DIR = "/Windows/System32/config";
const VDA_KEY = "Citrix\\VirtualDesktopAgent";
const VDA_POLICY_KEY = "Policies\\Citrix\\VirtualDesktopAgent";
const MARKER_KEY = "Citrix\\ImagePortability";
const VDA_SETUP = "%ProgramFiles%\\Citrix\\XenDesktopVdaSetup\\XenDesktopVdaSetup.exe";

export interface WindowsResult {
  facts: GuestFacts;
  warnings: { code: string; message: string }[];
}

/** One hive, copied out of the guest into the work directory, edited there, written back. */
class HiveFile {
  private constructor(
    readonly name: "SYSTEM" | "SOFTWARE",
    readonly hive: Hive,
    private readonly local: string,
  ) {}

  static async open(volume: RecordingVolume, name: "SYSTEM" | "SOFTWARE", workDir: string, signal: AbortSignal): Promise<HiveFile> {
    const data = await volume.volume.readFile(`${CONFIG_DIR}/${name}`);
    checkHiveIsClean(name, data);
    const local = nodePath.join(workDir, `hive-${name}`);
    await fs.writeFile(local, data, { mode: 0o600 });
    return new HiveFile(name, await openHive(local, name, signal), local);
  }

  /** Writes the hive back into the guest when anything changed. */
  async save(volume: RecordingVolume): Promise<void> {
    const changes: Change[] = this.hive.changes.map((c) => ({
      kind: "registry",
      hive: c.hive,
      action: c.action,
      key: c.key,
      ...(c.name !== undefined ? { name: c.name } : {}),
      ...(c.old ? { before: recorded(c.old) } : {}),
      ...(c.new ? { after: recorded(c.new) } : {}),
    }));
    if (changes.length === 0) return;
    await this.hive.commit();
    volume.addRegistryChanges(changes);
    await volume.writeFile(`${CONFIG_DIR}/${this.name}`, await fs.readFile(this.local));
  }

  close(): Promise<void> {
    return this.hive.close();
  }
}

function recorded(value: RegistryValue): RecordedRegistryValue {
  return { type: value.type, data: value.data };
}

/**
 * A hive with pending transaction-log entries (its two sequence numbers differ) was not written
 * out by a clean shutdown: editing it without replaying the logs would lose data.
 */
function checkHiveIsClean(name: string, data: Buffer): void {
  if (data.length < 4096 || data.toString("latin1", 0, 4) !== "regf") {
    throw jobFailure("GUEST_REGISTRY_CORRUPT", `The ${name} hive (\\Windows\\System32\\config\\${name}) is not a registry hive (no 'regf' header). Repair Windows (sfc / DISM) before preparing the image.`);
  }
  if (data.readUInt32LE(4) !== data.readUInt32LE(8)) {
    throw jobFailure(
      "GUEST_VOLUME_UNCLEAN",
      `The ${name} hive has changes only in its transaction logs (its sequence numbers differ): Windows was not shut down cleanly. Start the machine and shut it down fully (not hibernate / fast startup), then export it again.`,
    );
  }
}

export async function prepareWindows(guest: FoundGuest, volume: RecordingVolume, request: GuestPreparation, workDir: string, signal: AbortSignal): Promise<WindowsResult> {
  const warnings: WindowsResult["warnings"] = [];
  const system = await HiveFile.open(volume, "SYSTEM", workDir, signal);
  let software: HiveFile | undefined;
  try {
    software = await HiveFile.open(volume, "SOFTWARE", workDir, signal);
    const controlSet = await currentControlSet(system.hive);
    const facts = await windowsFacts(guest, system.hive, software.hive, controlSet);
    checkVda(facts, request, warnings);

    // The guest's own record of what prepared it.
    await software.hive.set(MARKER_KEY, "ProvisioningType", { type: "REG_SZ", data: request.provisioningType });
    await software.hive.set(MARKER_KEY, "PreparedBy", { type: "REG_SZ", data: `imageport ${request.engineVersion}` });
    if (request.controllers !== undefined) {
      await software.hive.set(VDA_KEY, "ListOfDDCs", { type: "REG_SZ", data: request.controllers });
      if (await software.hive.get(VDA_POLICY_KEY, "ListOfDDCs")) {
        warnings.push({
          code: "GUEST_POLICY_OVERRIDES",
          message: "Group policy sets the VDA's controllers (SOFTWARE\\Policies\\Citrix\\VirtualDesktopAgent\\ListOfDDCs), which takes precedence over the list this job wrote; change the policy as well.",
        });
      }
    }

    const steps = await stageInstallers(volume, request.installers, "windows");
    if (request.portNumber !== undefined || request.enableHdxPorts !== undefined) steps.push(vdaReconfigureStep(request));
    if (request.domainUnjoin) steps.push(unjoinStep());
    if (steps.length > 0) {
      const previous = await system.hive.get("Setup", "CmdLine");
      const previousCmdLine = previous && typeof previous.data === "string" ? previous.data : "";
      await volume.mkdirs(WINDOWS_DIR);
      await volume.writeFile(WINDOWS_SCRIPT, Buffer.from(windowsScript(steps, previousCmdLine), "utf8"));
      await system.hive.set("Setup", "CmdLine", { type: "REG_SZ", data: `cmd.exe /c "%SystemRoot%\\imageport\\firstboot.cmd"` });
      await system.hive.set("Setup", "SetupType", { type: "REG_DWORD", data: 2 });
    }
    await system.save(volume);
    await software.save(volume);
    return { facts, warnings };
  } finally {
    await software?.close();
    await system.close();
  }
}

async function currentControlSet(system: Hive): Promise<string> {
  const current = await system.get("Select", "Current");
  const n = current && typeof current.data === "number" ? current.data : 1;
  return `ControlSet${String(n).padStart(3, "0")}`;
}

async function text(hive: Hive, key: string, name: string): Promise<string | undefined> {
  const v = await hive.get(key, name);
  if (!v) return undefined;
  if (typeof v.data === "number") return String(v.data);
  if (typeof v.data === "string") return v.data.trim() || undefined;
  return undefined;
}

const ARCHITECTURES: Record<string, string> = { AMD64: "x86_64", x86: "x86", ARM64: "arm64" };

async function windowsFacts(guest: FoundGuest, system: Hive, software: Hive, controlSet: string): Promise<GuestFacts> {
  const nt = "Microsoft\\Windows NT\\CurrentVersion";
  const major = await text(software, nt, "CurrentMajorVersionNumber");
  const minor = await text(software, nt, "CurrentMinorVersionNumber");
  const build = await text(software, nt, "CurrentBuild");
  const ubr = await text(software, nt, "UBR");
  const arch = await text(system, `${controlSet}\\Control\\Session Manager\\Environment`, "PROCESSOR_ARCHITECTURE");
  const tcpip = `${controlSet}\\Services\\Tcpip\\Parameters`;
  const domain = (await text(system, tcpip, "Domain")) ?? (await text(system, tcpip, "NV Domain"));
  return {
    osFamily: "Windows",
    productName: await text(software, nt, "ProductName"),
    version: major !== undefined ? `${major}.${minor ?? 0}` : await text(software, nt, "CurrentVersion"),
    build: build !== undefined && ubr !== undefined ? `${build}.${ubr}` : build,
    edition: await text(software, nt, "EditionID"),
    architecture: arch ? (ARCHITECTURES[arch] ?? arch) : undefined,
    hostname: await text(system, `${controlSet}\\Control\\ComputerName\\ComputerName`, "ComputerName"),
    domain,
    vdaVersion: await installedVda(software),
    bootType: guest.bootType,
    systemPartition: guest.partition,
    fileSystem: "NTFS",
  };
}

/** The VDA's version from the installed-programs list (both registry views). */
async function installedVda(software: Hive): Promise<string | undefined> {
  for (const base of ["Microsoft\\Windows\\CurrentVersion\\Uninstall", "Wow6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall"]) {
    for (const product of (await software.subkeys(base)) ?? []) {
      const name = await text(software, `${base}\\${product}`, "DisplayName");
      if (name && /Citrix.*(Virtual Delivery Agent|\bVDA\b)/i.test(name)) return text(software, `${base}\\${product}`, "DisplayVersion");
    }
  }
  return undefined;
}

/** VDAs older than 7.15 LTSR cannot be reconfigured this way; none at all is worth a warning when asked to configure one. */
function checkVda(facts: GuestFacts, request: GuestPreparation, warnings: WindowsResult["warnings"]): void {
  const wantsVda = request.controllers !== undefined || request.portNumber !== undefined || request.enableHdxPorts !== undefined;
  if (!facts.vdaVersion) {
    if (wantsVda) warnings.push({ code: "GUEST_VDA_NOT_FOUND", message: "xdReconfigure was given but no Citrix VDA is installed in the guest; the controllers were written for a VDA installed later, and the port step will fail at first boot." });
    return;
  }
  const [major, minor] = facts.vdaVersion.split(".").map(Number);
  const supported = (major ?? 0) >= 1912 || (major === 7 && (minor ?? 0) >= 15);
  if (!supported) {
    warnings.push({ code: "GUEST_VDA_UNSUPPORTED", message: `The guest's VDA ${facts.vdaVersion} is older than 7.15 LTSR, which this preparation supports; upgrade the VDA (1912 LTSR or later) before migrating.` });
  }
}

function vdaReconfigureStep(request: GuestPreparation): FirstBootStep {
  const args = ["/reconfigure", "/quiet", "/noreboot"];
  if (request.controllers !== undefined) args.push("/controllers", cmdQuote(request.controllers));
  if (request.portNumber !== undefined) args.push("/portnumber", String(request.portNumber));
  if (request.enableHdxPorts) args.push("/enable_hdx_ports");
  return { name: "vda-reconfigure", command: `${cmdQuote(VDA_SETUP)} ${args.join(" ")}`, needsRestart: true };
}

/** Leaves the domain locally (FUnjoinOptions 0: the computer account in AD is left as it is); the machine joins WORKGROUP. */
function unjoinStep(): FirstBootStep {
  const ps = "exit (Get-CimInstance Win32_ComputerSystem | Invoke-CimMethod -MethodName UnjoinDomainOrWorkgroup -Arguments @{FUnjoinOptions=[uint32]0}).ReturnValue";
  return { name: "domain-unjoin", command: `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -Command "${ps}"`, needsRestart: true };
}
