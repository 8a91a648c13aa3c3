// The text descriptor of a VMDK as it lies in a datastore (`disk.vmdk` next to `disk-flat.vmdk`):
// which extent files hold the guest content, in order. Flat extents (FLAT, VMFS; also ZERO)
// are raw guest bytes read with ranged GETs; a delta of a snapshot chain (parentCID set, or
// SESPARSE/VMFSSPARSE/SPARSE extents) is not, and is read through an export lease instead
// (export-lease.ts); a hosted sparse file (KDMV/COWD magic, which ESXi does not run) is refused.

import { jobFailure } from "../../errors";

export interface FlatExtent {
  /** Guest offset where the extent starts. */
  start: number;
  length: number;
  /** The extent file (relative to the descriptor's folder); absent for a ZERO extent. */
  file?: string;
  /** Byte offset of the extent's content in its file. */
  fileOffset: number;
}

const SECTOR = 512;
const FLAT_TYPES = new Set(["FLAT", "VMFS"]);

/** How a disk's descriptor can be read: its flat extents, or only through an export lease (a delta or sparse extents). */
export type DescriptorKind = "flat" | "delta" | "unreadable";

export function classifyDescriptor(content: Buffer): DescriptorKind {
  try {
    parseDescriptor(content, "");
    return "flat";
  } catch (error) {
    return (error as { descriptorKind?: DescriptorKind }).descriptorKind ?? "unreadable";
  }
}

/** The flat extents of a descriptor, or a SOURCE_DISK_UNREADABLE failure saying why it cannot be read as raw bytes. */
export function parseDescriptor(content: Buffer, name: string): FlatExtent[] {
  if (content.subarray(0, 4).toString("latin1") === "KDMV" || content.subarray(0, 4).toString("latin1") === "COWD") {
    throw unreadable(name, "it is a sparse (hosted) VMDK, not a descriptor with flat extents");
  }
  const lines = content.toString("utf8").split(/\r?\n/);
  if (!lines.some((l) => /^#\s*Disk DescriptorFile/i.test(l.trim()))) {
    throw unreadable(name, "it is not a VMDK descriptor");
  }
  const parent = lines.map((l) => /^parentCID\s*=\s*"?([0-9a-fA-F]+)"?/.exec(l.trim())).find(Boolean);
  if (parent && parent[1]!.toLowerCase() !== "ffffffff") {
    throw delta(name, "it is a delta disk of a snapshot chain (parentCID is set)");
  }
  const extents: FlatExtent[] = [];
  let start = 0;
  for (const line of lines) {
    const m = /^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)(?:\s+"([^"]+)")?(?:\s+(\d+))?/.exec(line.trim());
    if (!m) continue;
    const sectors = Number(m[2]);
    const type = m[3]!.toUpperCase();
    const length = sectors * SECTOR;
    if (type === "ZERO") extents.push({ start, length, fileOffset: 0 });
    else if (FLAT_TYPES.has(type)) extents.push({ start, length, file: m[4]!, fileOffset: Number(m[5] ?? 0) * SECTOR });
    else throw delta(name, `its extent '${m[4] ?? type}' is of type ${type}, which holds a sparse or delta format`);
    start += length;
  }
  if (extents.length === 0) throw unreadable(name, "it names no extent files");
  return extents;
}

function unreadable(name: string, why: string) {
  return Object.assign(
    jobFailure(
      "SOURCE_DISK_UNREADABLE",
      `The disk ${name} cannot be read: ${why}. imageport reads the disks ESXi runs (flat, thin or thick, and snapshot chains, through an export lease); ` +
        `convert this one in vCenter (e.g. clone the VM) and export the copy.`,
    ),
    { descriptorKind: "unreadable" as DescriptorKind },
  );
}

/** Not flat extents, but a disk vCenter can export (the caller switches to an export lease). */
function delta(name: string, why: string) {
  return Object.assign(
    jobFailure("SOURCE_DISK_UNREADABLE", `The disk ${name} cannot be read as flat extents: ${why}; it is read through an export lease instead.`),
    { descriptorKind: "delta" as DescriptorKind },
  );
}
