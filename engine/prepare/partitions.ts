// The partition table of a disk, read from its first sectors (and the EBR chain for MBR logical
// partitions): MBR and GPT with 512-byte or 4096-byte logical sectors. A disk with neither is
// one volume from sector 0 ("superfloppy"), as some Linux images are.

import { jobFailure } from "../errors";

export type PartitionRole = "efi-system" | "windows-data" | "linux-data" | "linux-swap" | "lvm" | "reserved" | "recovery" | "bios-boot" | "extended" | "other";

export interface Partition {
  /** 1-based, as Windows and Linux number them (MBR logical partitions from 5). */
  number: number;
  offset: number;
  size: number;
  role: PartitionRole;
  /** MBR type byte as hex ("07") or GPT type GUID. */
  type: string;
}

export interface PartitionTable {
  scheme: "mbr" | "gpt" | "none";
  sectorSize: number;
  partitions: Partition[];
}

type Read = (offset: number, length: number) => Promise<Buffer>;

const GPT_ROLES: Record<string, PartitionRole> = {
  "C12A7328-F81F-11D2-BA4B-00A0C93EC93B": "efi-system",
  "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7": "windows-data",
  "E3C9E316-0B5C-4DB8-817D-F92DF00215AE": "reserved",
  "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC": "recovery",
  "0FC63DAF-8483-4772-8E79-3D69D8477DE4": "linux-data",
  "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709": "linux-data", // root (x86-64)
  "B921B045-1DF0-41C3-AF44-4C6F280D3FAE": "linux-data", // root (arm64)
  "933AC7E1-2EB4-4F13-B844-0E14E2AEF915": "linux-data", // /home
  "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F": "linux-swap",
  "E6D6D379-F507-44C2-A23C-238F2A3DF928": "lvm",
  "21686148-6449-6E6F-744E-656564454649": "bios-boot",
};

const MBR_ROLES: Record<number, PartitionRole> = {
  0x07: "windows-data", // NTFS (and exFAT)
  0x0b: "windows-data",
  0x0c: "windows-data",
  0x27: "recovery",
  0x82: "linux-swap",
  0x83: "linux-data",
  0x8e: "lvm",
  0xef: "efi-system",
  0x05: "extended",
  0x0f: "extended",
  0x85: "extended",
};

/** Logical partitions followed before the chain is called broken (Linux allows 60 or so). */
const MAX_LOGICAL = 128;

export async function readPartitionTable(read: Read, diskSize: number, name: string): Promise<PartitionTable> {
  for (const sectorSize of [512, 4096]) {
    const header = await read(sectorSize, 92);
    if (header.toString("latin1", 0, 8) === "EFI PART") return { scheme: "gpt", sectorSize, partitions: await readGpt(read, header, sectorSize, diskSize, name) };
  }
  const mbr = await read(0, 512);
  if (mbr.readUInt16LE(510) !== 0xaa55 || !plausibleMbr(mbr, diskSize)) return { scheme: "none", sectorSize: 512, partitions: [] };
  return { scheme: "mbr", sectorSize: 512, partitions: await readMbr(read, mbr, diskSize, name) };
}

/** A boot sector of a volume (NTFS, FAT) also ends in 55AA: only entries that make sense make a table. */
function plausibleMbr(mbr: Buffer, diskSize: number): boolean {
  let any = false;
  for (let i = 0; i < 4; i++) {
    const e = 446 + 16 * i;
    const status = mbr[e]!;
    const type = mbr[e + 4]!;
    if (type === 0) continue;
    const start = mbr.readUInt32LE(e + 8) * 512;
    const size = mbr.readUInt32LE(e + 12) * 512;
    if ((status !== 0 && status !== 0x80) || start === 0 || size === 0 || start + size > diskSize + 512) return false;
    any = true;
  }
  return any;
}

async function readMbr(read: Read, mbr: Buffer, diskSize: number, name: string): Promise<Partition[]> {
  const partitions: Partition[] = [];
  for (let i = 0; i < 4; i++) {
    const entry = mbrEntry(mbr, i, 0);
    if (!entry) continue;
    if (entry.role === "extended") partitions.push(...(await readLogical(read, entry.offset, diskSize, name)));
    else partitions.push({ number: i + 1, ...entry });
  }
  return partitions.filter((p) => checkInside(p, diskSize, name));
}

function mbrEntry(sector: Buffer, index: number, base: number): Omit<Partition, "number"> | undefined {
  const e = 446 + 16 * index;
  const type = sector[e + 4]!;
  if (type === 0) return undefined;
  return {
    offset: base + sector.readUInt32LE(e + 8) * 512,
    size: sector.readUInt32LE(e + 12) * 512,
    role: MBR_ROLES[type] ?? "other",
    type: type.toString(16).padStart(2, "0"),
  };
}

/** The EBR chain: each EBR holds one logical partition (relative to itself) and a link (relative to the extended partition). */
async function readLogical(read: Read, extendedStart: number, diskSize: number, name: string): Promise<Partition[]> {
  const out: Partition[] = [];
  let ebrAt = extendedStart;
  for (let n = 5; n < 5 + MAX_LOGICAL; n++) {
    const ebr = await read(ebrAt, 512);
    if (ebr.readUInt16LE(510) !== 0xaa55) throw brokenTable(name, `the extended boot record at byte ${ebrAt} has no 55AA signature`);
    const logical = mbrEntry(ebr, 0, ebrAt);
    if (logical) out.push({ number: n, ...logical });
    const next = mbrEntry(ebr, 1, extendedStart);
    if (!next || next.offset >= diskSize) return out;
    ebrAt = next.offset;
  }
  throw brokenTable(name, `the chain of logical partitions is longer than ${MAX_LOGICAL} (a loop?)`);
}

async function readGpt(read: Read, header: Buffer, sectorSize: number, diskSize: number, name: string): Promise<Partition[]> {
  const entriesLba = Number(header.readBigUInt64LE(72));
  const count = header.readUInt32LE(80);
  const entrySize = header.readUInt32LE(84);
  if (entrySize < 128 || entrySize % 8 !== 0 || count > 1024) throw brokenTable(name, `its GPT header lists ${count} entries of ${entrySize} bytes`);
  const entries = await read(entriesLba * sectorSize, count * entrySize);
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    const type = guid(e.subarray(0, 16));
    if (type === "00000000-0000-0000-0000-000000000000") continue;
    const first = Number(e.readBigUInt64LE(32));
    const last = Number(e.readBigUInt64LE(40));
    if (last < first) throw brokenTable(name, `GPT entry ${i + 1} ends before it starts`);
    partitions.push({ number: i + 1, offset: first * sectorSize, size: (last - first + 1) * sectorSize, role: GPT_ROLES[type] ?? "other", type });
  }
  return partitions.filter((p) => checkInside(p, diskSize, name));
}

/** A GUID as text: the first three fields are little-endian on disk. */
function guid(b: Buffer): string {
  const hex = (buf: Buffer) => buf.toString("hex").toUpperCase();
  const le = (start: number, end: number) => hex(Buffer.from(b.subarray(start, end)).reverse());
  return `${le(0, 4)}-${le(4, 6)}-${le(6, 8)}-${hex(b.subarray(8, 10))}-${hex(b.subarray(10, 16))}`;
}

function checkInside(p: Partition, diskSize: number, name: string): boolean {
  if (p.size === 0) return false;
  if (p.offset + p.size > diskSize) throw brokenTable(name, `partition ${p.number} ends at byte ${p.offset + p.size}, past the disk's end (${diskSize})`);
  return true;
}

function brokenTable(name: string, why: string) {
  return jobFailure("GUEST_NOT_FOUND", `The partition table of ${name} is damaged: ${why}. Check the disk with 'sfdisk --verify' or the hypervisor's tools.`);
}
