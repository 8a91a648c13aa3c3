// Guest images for the preparation tests, built with the real tools and no root: a Windows
// disk (MBR or GPT) whose NTFS volume, made by mkntfs and filled by wimapply, holds real SYSTEM
// and SOFTWARE hives (a minimal hive filled by hivexregedit --merge) and a \Windows\System32
// tree; and a Linux disk whose ext4 root is made by mkfs.ext4 -d from a tree with os-release,
// hostname, machine-id and a real ELF shell. Partition tables come from sfdisk.

import { execFile } from "node:child_process";
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { writeMinimalHive } from "./minimal-hive";
import { setNtfsDirtyFlag } from "./ntfs-volume";

const run = promisify(execFile);
const MiB = 1024 * 1024;

export type Scheme = "mbr" | "gpt";

export interface WindowsImageOptions {
  scheme: Scheme;
  hostname?: string;
  /** A Citrix VDA in the installed-programs list. */
  vdaVersion?: string;
  /** Replace the volume's OEM id with BitLocker's signature. */
  bitlocker?: boolean;
  /** Make the SYSTEM hive unreadable (a bad base block). */
  corruptHive?: boolean;
  /** Set the volume's dirty flag (as a crash or a pending chkdsk leaves it). */
  dirty?: boolean;
  /** A directory copied into the volume's root as well (benches: data). */
  extraTree?: string;
  /** The OS volume's size (default 48 MiB). */
  volumeMiB?: number;
  /** MBR only: an empty 8 MiB NTFS "System Reserved" partition before the OS one, as Windows installs it. */
  systemReserved?: boolean;
}

export interface GuestImage {
  /** Raw disk image. */
  path: string;
  /** Byte offset and size of the OS volume. */
  volumeOffset: number;
  volumeSize: number;
}

const OS_VOLUME_MIB = 48;
const RESERVED_MIB = 8;

/** The values the Windows image's hives hold (what the tests expect as facts). */
export const WINDOWS_FACTS = {
  productName: "Windows 10 Enterprise",
  build: "19045.3803",
  version: "10.0",
  edition: "Enterprise",
  architecture: "x86_64",
  domain: "corp.example.com",
  oldControllers: "old-ddc.corp.example.com",
};

export async function makeWindowsImage(dir: string, name: string, options: WindowsImageOptions): Promise<GuestImage> {
  const work = await fs.mkdtemp(path.join(dir, `${name}-build-`));
  try {
    const tree = path.join(work, "tree");
    await writeWindowsTree(tree, options);
    if (options.extraTree) await fs.cp(options.extraTree, tree, { recursive: true });
    const volumeMiB = options.volumeMiB ?? OS_VOLUME_MIB;
    const volume = path.join(work, "volume.img");
    await fs.writeFile(volume, "");
    await fs.truncate(volume, volumeMiB * MiB);
    await run(tool("mkntfs"), ["-F", "-Q", "-q", "-L", "OS", volume]);
    const wim = path.join(work, "tree.wim");
    await run("wimcapture", [tree, wim, "--no-acls", "--compress=none"]);
    await run("wimapply", [wim, "1", volume, "--no-acls"]);
    if (options.dirty) await setNtfsDirtyFlag(volume, true);
    if (options.bitlocker) {
      const fd = await fs.open(volume, "r+");
      await fd.write(Buffer.from("-FVE-FS-", "latin1"), 0, 8, 3);
      await fd.close();
    }
    let reserved: string | undefined;
    if (options.systemReserved) {
      reserved = path.join(work, "reserved.img");
      await fs.writeFile(reserved, "");
      await fs.truncate(reserved, RESERVED_MIB * MiB);
      await run(tool("mkntfs"), ["-F", "-Q", "-q", "-L", "System Reserved", reserved]);
    }
    return await assemble(path.join(dir, `${name}.raw`), volume, volumeMiB, options.scheme, "windows", reserved);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

async function writeWindowsTree(tree: string, options: WindowsImageOptions): Promise<void> {
  const config = path.join(tree, "Windows", "System32", "config");
  await fs.mkdir(config, { recursive: true });
  await fs.mkdir(path.join(tree, "Windows", "System32", "drivers"), { recursive: true });
  await fs.mkdir(path.join(tree, "Users", "Public"), { recursive: true });
  await fs.writeFile(path.join(tree, "Windows", "System32", "ntoskrnl.exe"), pseudoRandom(300 * 1024, 1));
  await fs.writeFile(path.join(tree, "Windows", "System32", "drivers", "disk.sys"), pseudoRandom(70 * 1024, 2));
  await fs.writeFile(path.join(tree, "Users", "Public", "desktop.ini"), "[.ShellClassInfo]\r\n");
  await fs.writeFile(path.join(tree, "bootmgr"), pseudoRandom(40 * 1024, 3));

  const system = path.join(config, "SYSTEM");
  await writeMinimalHive(system);
  await mergeReg(system, "HKEY_LOCAL_MACHINE\\SYSTEM", [
    ["Select", { Current: dword(1), Default: dword(1) }],
    ["ControlSet001\\Control\\ComputerName\\ComputerName", { ComputerName: sz(options.hostname ?? "GOLDEN-01") }],
    ["ControlSet001\\Control\\Session Manager\\Environment", { PROCESSOR_ARCHITECTURE: sz("AMD64") }],
    ["ControlSet001\\Services\\Tcpip\\Parameters", { Domain: sz(WINDOWS_FACTS.domain), Hostname: sz(options.hostname ?? "GOLDEN-01") }],
    ["Setup", { CmdLine: sz(""), SetupType: dword(0) }],
  ]);
  if (options.corruptHive) {
    const fd = await fs.open(system, "r+");
    await fd.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, 0x1fc); // the base block's checksum
    await fd.close();
  }

  const software = path.join(config, "SOFTWARE");
  await writeMinimalHive(software);
  const keys: [string, Record<string, string>][] = [
    [
      "Microsoft\\Windows NT\\CurrentVersion",
      {
        ProductName: sz(WINDOWS_FACTS.productName),
        CurrentMajorVersionNumber: dword(10),
        CurrentMinorVersionNumber: dword(0),
        CurrentBuild: sz("19045"),
        UBR: dword(3803),
        EditionID: sz(WINDOWS_FACTS.edition),
        DisplayVersion: sz("22H2"),
      },
    ],
    ["Citrix\\VirtualDesktopAgent", { ListOfDDCs: sz(WINDOWS_FACTS.oldControllers) }],
    ["Microsoft\\Windows\\CurrentVersion\\Uninstall\\{7E8B3A43-0F2B-4A33-9AAE-1C8D3E7C1B11}", { DisplayName: sz("Microsoft Edge"), DisplayVersion: sz("120.0.2210.91") }],
  ];
  if (options.vdaVersion) {
    keys.push(["Microsoft\\Windows\\CurrentVersion\\Uninstall\\Citrix Virtual Desktop Agent", { DisplayName: sz("Citrix Virtual Delivery Agent 2203 LTSR"), DisplayVersion: sz(options.vdaVersion) }]);
  }
  await mergeReg(software, "HKEY_LOCAL_MACHINE\\SOFTWARE", keys);
}

export interface LinuxImageOptions {
  scheme: Scheme;
  hostname?: string;
  /** Adds a dpkg entry for the Linux VDA (package xendesktopvda). */
  vdaVersion?: string;
}

export const LINUX_FACTS = {
  productName: "Debian GNU/Linux 12 (bookworm)",
  version: "12",
  machineId: "0123456789abcdef0123456789abcdef",
  realm: "CORP.EXAMPLE.COM",
};

export async function makeLinuxImage(dir: string, name: string, options: LinuxImageOptions): Promise<GuestImage> {
  const work = await fs.mkdtemp(path.join(dir, `${name}-build-`));
  try {
    const tree = path.join(work, "tree");
    for (const d of ["etc/systemd/system/multi-user.target.wants", "usr/bin", "usr/lib", "var/lib/dpkg", "home/user"]) await fs.mkdir(path.join(tree, d), { recursive: true });
    await fs.writeFile(
      path.join(tree, "usr/lib/os-release"),
      `PRETTY_NAME="${LINUX_FACTS.productName}"\nNAME="Debian GNU/Linux"\nVERSION_ID="${LINUX_FACTS.version}"\nVERSION="12 (bookworm)"\nID=debian\n`,
    );
    await fs.symlink("../usr/lib/os-release", path.join(tree, "etc/os-release"));
    await fs.writeFile(path.join(tree, "etc/hostname"), `${options.hostname ?? "golden-linux"}\n`);
    await fs.writeFile(path.join(tree, "etc/machine-id"), `${LINUX_FACTS.machineId}\n`);
    await fs.writeFile(path.join(tree, "etc/krb5.conf"), `[libdefaults]\n    default_realm = ${LINUX_FACTS.realm}\n`);
    await fs.copyFile("/bin/sh", path.join(tree, "usr/bin/sh"));
    await fs.writeFile(path.join(tree, "home/user/data.bin"), pseudoRandom(512 * 1024, 4));
    const status = ["Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b2\n"];
    if (options.vdaVersion) status.push(`Package: xendesktopvda\nStatus: install ok installed\nVersion: ${options.vdaVersion}\n`);
    await fs.writeFile(path.join(tree, "var/lib/dpkg/status"), status.join("\n"));
    const volume = path.join(work, "volume.img");
    await run(tool("mkfs.ext4"), ["-q", "-F", "-L", "root", "-d", tree, volume, `${OS_VOLUME_MIB}M`]);
    return await assemble(path.join(dir, `${name}.raw`), volume, OS_VOLUME_MIB, options.scheme, "linux");
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/** A disk with the volume as its OS partition (GPT: behind an EFI system partition). */
async function assemble(image: string, volume: string, volumeMiB: number, scheme: Scheme, os: "windows" | "linux", reserved?: string): Promise<GuestImage> {
  const esp = 8;
  const osStart = scheme === "gpt" ? 1 + esp : reserved ? 1 + RESERVED_MIB : 1;
  const diskMiB = osStart + volumeMiB + 1;
  await fs.writeFile(image, "");
  await fs.truncate(image, diskMiB * MiB);
  const osType = scheme === "gpt" ? (os === "windows" ? "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7" : "0FC63DAF-8483-4772-8E79-3D69D8477DE4") : os === "windows" ? "7" : "83";
  const lines = [`label: ${scheme}`];
  if (scheme === "gpt") lines.push(`start=2048, size=${esp * 2048}, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B`);
  else if (reserved) lines.push(`start=2048, size=${RESERVED_MIB * 2048}, type=7, bootable`);
  lines.push(`start=${osStart * 2048}, size=${volumeMiB * 2048}, type=${osType}`);
  const sfdisk = run(tool("sfdisk"), ["--quiet", "--no-reread", "--no-tell-kernel", image]);
  sfdisk.child.stdin!.end(lines.join("\n") + "\n");
  await sfdisk;
  if (reserved) await run("dd", [`if=${reserved}`, `of=${image}`, "bs=1M", "seek=1", "conv=notrunc,sparse", "status=none"]);
  await run("dd", [`if=${volume}`, `of=${image}`, "bs=1M", `seek=${osStart}`, "conv=notrunc,sparse", "status=none"]);
  return { path: image, volumeOffset: osStart * MiB, volumeSize: volumeMiB * MiB };
}

/** Copies the OS volume out of a disk image (raw) so ntfs-3g's tools and debugfs can read it. */
export async function extractVolume(image: GuestImage | { path: string; volumeOffset: number; volumeSize: number }, out: string): Promise<string> {
  await run("dd", [`if=${image.path}`, `of=${out}`, "bs=1M", `skip=${image.volumeOffset / MiB}`, `count=${image.volumeSize / MiB}`, "conv=sparse", "status=none"]);
  return out;
}

// --- .reg files for hivexregedit --merge ---

function sz(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

function dword(value: number): string {
  return `dword:${value.toString(16).padStart(8, "0")}`;
}

async function mergeReg(hive: string, prefix: string, keys: [string, Record<string, string>][]): Promise<void> {
  const lines = ["Windows Registry Editor Version 5.00", ""];
  const made = new Set<string>();
  for (const [key, values] of keys) {
    // hivexregedit creates a key only under an existing parent: every ancestor gets a section first.
    const parts = key.split("\\");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("\\");
      if (made.has(parent)) continue;
      made.add(parent);
      lines.push(`[${prefix}\\${parent}]`, "");
    }
    made.add(key);
    lines.push(`[${prefix}\\${key}]`);
    for (const [name, value] of Object.entries(values)) lines.push(`"${name}"=${value}`);
    lines.push("");
  }
  const reg = `${hive}.reg`;
  await fs.writeFile(reg, lines.join("\r\n"));
  try {
    await run("hivexregedit", ["--merge", "--prefix", prefix, hive, reg]);
  } finally {
    await fs.rm(reg, { force: true });
  }
}

/** Deterministic filler (xorshift), so images are the same every run. */
function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

/** e2fsprogs, ntfs-3g and fdisk install to /usr/sbin (or /sbin), often not on a user's PATH. */
function tool(name: string): string {
  return ["/usr/sbin", "/sbin"].map((d) => path.join(d, name)).find((p) => existsSync(p)) ?? name;
}
