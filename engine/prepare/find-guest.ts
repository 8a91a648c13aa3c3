// Finding the guest OS in a disk: the partition table, each data partition's file system (from
// its first sectors), and the one that holds Windows (\Windows\System32\config\SYSTEM on NTFS)
// or Linux (/etc/os-release on ext2/3/4). What cannot be prepared is refused with a code: an
// encrypted volume, an unclean one, a file system the engine cannot edit, or no OS at all.

import { EngineError, EngineErrorCode, jobFailure } from "../errors";
import { BlockDevice, windowOf } from "./block-device";
import { Partition, PartitionTable, readPartitionTable } from "./partitions";
import { GuestVolume, openGuestVolume, VolumeToolName } from "./volume-tool";

export type GuestOs = "windows" | "linux";
export type BootType = "UEFI" | "BIOS";

export interface FoundGuest {
  os: GuestOs;
  volume: GuestVolume;
  /** The partition's number, 0 for a disk without a partition table. */
  partition: number;
  fileSystem: "ntfs" | "ext";
  bootType: BootType;
  table: PartitionTable;
}

type Sniffed = "ntfs" | "bitlocker" | "ext" | "unknown";

const WINDOWS_MARKER = "/Windows/System32/config/SYSTEM";
const LINUX_MARKERS = ["/etc/os-release", "/usr/lib/os-release"];

/** Refusals, most telling first: an encrypted volume explains a missing OS better than anything else. */
const REFUSAL_ORDER: EngineErrorCode[] = ["GUEST_ENCRYPTED", "GUEST_VOLUME_UNCLEAN", "GUEST_FILE_SYSTEM_UNSUPPORTED"];

export async function findGuest(disk: BlockDevice, name: string, signal: AbortSignal): Promise<FoundGuest> {
  const table = await readPartitionTable((offset, length) => disk.read(offset, length), disk.size, name);
  const candidates: Partition[] =
    table.scheme === "none"
      ? [{ number: 0, offset: 0, size: disk.size, role: "other", type: "" }]
      : table.partitions.filter((p) => p.role === "windows-data" || p.role === "linux-data" || p.role === "lvm" || p.role === "other");
  const refusals: EngineError[] = [];
  const seen: string[] = [];

  for (const part of candidates) {
    signal.throwIfAborted();
    const where = part.number === 0 ? name : `partition ${part.number} of ${name}`;
    if (part.role === "lvm") {
      refusals.push(jobFailure("GUEST_FILE_SYSTEM_UNSUPPORTED", `${where} is an LVM physical volume; guests on LVM cannot be prepared yet. Prepare a disk whose root file system is on a plain partition.`));
      seen.push(`${where}: LVM`);
      continue;
    }
    const kind = sniff(await disk.read(part.offset, Math.min(4096, part.size)));
    seen.push(`${where}: ${kind}`);
    if (kind === "bitlocker") {
      refusals.push(jobFailure("GUEST_ENCRYPTED", `${where} is encrypted with BitLocker, so its files cannot be read or changed offline. Decrypt the volume in Windows (manage-bde -off C:) before exporting the image.`));
      continue;
    }
    if (kind === "unknown") {
      if (part.role !== "other") {
        refusals.push(jobFailure("GUEST_FILE_SYSTEM_UNSUPPORTED", `${where} holds a file system the engine cannot edit (NTFS and ext2/3/4 are supported).`));
      }
      continue;
    }
    const tool: VolumeToolName = kind === "ntfs" ? "ntfs-edit" : "ext4-edit";
    let volume: GuestVolume;
    try {
      volume = await openGuestVolume(tool, windowOf(disk, part.offset, part.size), where, signal);
    } catch (error) {
      if (error instanceof EngineError && REFUSAL_ORDER.includes(error.code)) {
        refusals.push(error);
        continue;
      }
      throw error;
    }
    const os = await osOn(volume, kind);
    if (os) return { os, volume, partition: part.number, fileSystem: kind, bootType: bootType(table), table };
    // Not the system volume (e.g. Windows' System Reserved): whatever opening it wrote (ntfs-3g
    // marks a volume in use while it is open) is dropped, so that partition is copied as it was.
    await volume.abort();
    await disk.discard?.(part.offset, part.size);
  }

  refusals.sort((a, b) => REFUSAL_ORDER.indexOf(a.code) - REFUSAL_ORDER.indexOf(b.code));
  if (refusals[0]) throw refusals[0];
  throw jobFailure(
    "GUEST_NOT_FOUND",
    `No Windows or Linux system was found on ${name} (${seen.length ? seen.join("; ") : `a ${table.scheme} partition table with no data partition`}). ` +
      `Preparation needs a Windows volume (NTFS, with \\Windows\\System32\\config\\SYSTEM) or a Linux root file system (ext2/3/4, with /etc/os-release). Check that this is the system disk.`,
  );
}

/** What the first 4 KiB of a volume say it is. */
export function sniff(head: Buffer): Sniffed {
  const oem = head.toString("latin1", 3, 11);
  if (oem === "NTFS    ") return "ntfs";
  if (oem === "-FVE-FS-") return "bitlocker";
  if (head.length >= 1024 + 58 && head.readUInt16LE(1024 + 56) === 0xef53) return "ext";
  return "unknown";
}

async function osOn(volume: GuestVolume, kind: "ntfs" | "ext"): Promise<GuestOs | undefined> {
  if (kind === "ntfs") return (await volume.stat(WINDOWS_MARKER))?.type === "file" ? "windows" : undefined;
  for (const marker of LINUX_MARKERS) {
    const found = await volume.stat(marker);
    if (found && found.type !== "dir") return "linux";
  }
  return undefined;
}

/** UEFI when the disk has an EFI system partition; a BIOS disk has none. */
function bootType(table: PartitionTable): BootType {
  return table.partitions.some((p) => p.role === "efi-system") ? "UEFI" : "BIOS";
}
