// Linux (ext2/3/4 root), offline: facts from /etc/os-release, /etc/hostname, the ELF header of
// /bin/sh, the Linux VDA's package and the Kerberos realm; edits as files:
//   Both kinds:  /etc/imageport/prepared (provisioning type, engine version);
//                controllers -> the Linux VDA's own ctxreg at first boot (its registry is a
//                database the VDA's tools own, not a file to patch offline);
//                domainUnjoin -> `realm leave` at first boot.
//   Mcs: /etc/machine-id emptied (systemd makes a new one on each clone's first boot) and
//        /etc/hostname emptied (each clone takes the name DHCP or MCS gives it);
//        may stage MCS I/O and the machine identity agent.
//   Pvs: machine identity kept (PVS streams one vDisk and sets identity itself);
//        may stage the PVS target device.

import { RecordingVolume } from "../change-record";
import { FirstBootStep, LINUX_DIR, LINUX_SCRIPT, LINUX_UNIT, LINUX_UNIT_LINK, linuxScript, linuxUnit, shQuote } from "../first-boot";
import { FoundGuest } from "../find-guest";
import { GuestFacts, GuestPreparation } from "../request";
import { stageInstallers } from "../installers";

const CTXREG = "/opt/Citrix/VDA/bin/ctxreg";

export interface LinuxResult {
  facts: GuestFacts;
  warnings: { code: string; message: string }[];
}

export async function prepareLinux(guest: FoundGuest, volume: RecordingVolume, request: GuestPreparation): Promise<LinuxResult> {
  const warnings: LinuxResult["warnings"] = [];
  const facts = await linuxFacts(guest, volume);
  const wantsVda = request.controllers !== undefined || request.portNumber !== undefined || request.enableHdxPorts !== undefined;
  if (wantsVda && !facts.vdaVersion) {
    warnings.push({ code: "GUEST_VDA_NOT_FOUND", message: "xdReconfigure was given but no Linux VDA is installed in the guest (no /opt/Citrix/VDA); the first-boot step that sets the controllers will fail." });
  }
  if (request.portNumber !== undefined || request.enableHdxPorts !== undefined) {
    warnings.push({ code: "GUEST_OPTION_NOT_APPLICABLE", message: "portnumber and enable_hdx_ports configure the Windows VDA; the Linux VDA takes only the controllers, so they were not applied." });
  }

  await volume.mkdirs("/etc/imageport");
  await volume.writeFile("/etc/imageport/prepared", Buffer.from(`provisioningType=${request.provisioningType}\npreparedBy=imageport ${request.engineVersion}\n`));
  if (request.provisioningType === "Mcs") {
    if (await volume.volume.stat("/etc/machine-id")) await volume.writeFile("/etc/machine-id", Buffer.alloc(0), 0o444);
    if (await volume.volume.stat("/etc/hostname")) await volume.writeFile("/etc/hostname", Buffer.alloc(0));
  }

  const steps: FirstBootStep[] = await stageInstallers(volume, request.installers, "linux");
  if (request.controllers !== undefined) {
    steps.push({
      name: "vda-controllers",
      command: `${CTXREG} create -k ${shQuote("HKLM\\Software\\Citrix\\VirtualDesktopAgent")} -t REG_SZ -v ListOfDDCs -d ${shQuote(request.controllers)} --force`,
      needsRestart: true,
    });
  }
  if (request.domainUnjoin) steps.push({ name: "domain-unjoin", command: "realm leave", needsRestart: true });
  if (steps.length > 0) {
    await volume.mkdirs(LINUX_DIR);
    await volume.writeFile(LINUX_SCRIPT, Buffer.from(linuxScript(steps)), 0o700);
    await volume.mkdirs("/etc/systemd/system/multi-user.target.wants");
    await volume.writeFile(LINUX_UNIT, Buffer.from(linuxUnit()));
    await volume.symlink(LINUX_UNIT_LINK, LINUX_UNIT);
  }
  return { facts, warnings };
}

async function readText(volume: RecordingVolume, path: string): Promise<string | undefined> {
  const found = await volume.volume.stat(path);
  if (!found || found.type !== "file") return undefined;
  return (await volume.volume.readFile(path)).toString("utf8");
}

/** os-release's KEY=value lines (values unquoted). */
export function parseOsRelease(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!.replace(/^(["'])(.*)\1$/, "$2");
  }
  return out;
}

const ELF_MACHINES: Record<number, string> = { 0x3e: "x86_64", 0x03: "x86", 0xb7: "arm64", 0x28: "arm", 0xf3: "riscv64", 0x15: "ppc64", 0x16: "s390x" };

async function linuxFacts(guest: FoundGuest, volume: RecordingVolume): Promise<GuestFacts> {
  const osRelease = parseOsRelease((await readText(volume, "/etc/os-release")) ?? (await readText(volume, "/usr/lib/os-release")) ?? "");
  const hostname = (await readText(volume, "/etc/hostname"))?.trim();
  return {
    osFamily: "Linux",
    productName: osRelease.PRETTY_NAME ?? osRelease.NAME,
    version: osRelease.VERSION_ID,
    build: osRelease.BUILD_ID,
    edition: osRelease.VARIANT_ID ?? osRelease.ID,
    architecture: await architecture(volume),
    hostname: hostname || undefined,
    domain: await kerberosRealm(volume),
    vdaVersion: await linuxVdaVersion(volume),
    bootType: guest.bootType,
    systemPartition: guest.partition,
    fileSystem: guest.volume.facts.type ?? "ext4",
  };
}

/** From the ELF header of the guest's shell (e_machine), following /bin -> usr/bin. */
async function architecture(volume: RecordingVolume): Promise<string | undefined> {
  for (const path of ["/usr/bin/sh", "/bin/sh", "/usr/bin/env", "/bin/busybox"]) {
    const found = await volume.volume.stat(path);
    if (found?.type !== "file") continue;
    const head = (await volume.volume.readFile(path)).subarray(0, 20);
    if (head.length < 20 || head.toString("latin1", 0, 4) !== "\x7fELF") continue;
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    return ELF_MACHINES[machine] ?? `elf-machine-${machine}`;
  }
  return undefined;
}

/** default_realm of /etc/krb5.conf: the AD domain a joined Linux VDA uses. */
async function kerberosRealm(volume: RecordingVolume): Promise<string | undefined> {
  const text = await readText(volume, "/etc/krb5.conf");
  return text ? /^\s*default_realm\s*=\s*(\S+)/m.exec(text)?.[1] : undefined;
}

/** The Linux VDA's version from dpkg's status file (package xendesktopvda), or "installed" when only /opt/Citrix/VDA is there. */
async function linuxVdaVersion(volume: RecordingVolume): Promise<string | undefined> {
  const status = await readText(volume, "/var/lib/dpkg/status");
  const entry = status?.split("\n\n").find((p) => /^Package: xendesktopvda$/m.test(p) && /^Status: .*installed$/m.test(p));
  const version = entry ? /^Version: (\S+)$/m.exec(entry)?.[1] : undefined;
  if (version) return version;
  return (await volume.volume.stat("/opt/Citrix/VDA"))?.type === "dir" ? "installed" : undefined;
}
