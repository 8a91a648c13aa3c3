// NTFS volumes for the guest-edit tests, made and read back with the real tools and no root or
// mounts: mkntfs formats an image file, wimcapture + wimapply put a tree of files in it (wimlib
// writes NTFS itself, through libntfs-3g), and ntfscat / ntfsls / ntfsfix judge the result.

import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const MiB = 1024 * 1024;

/**
 * A fresh NTFS volume image of `sizeBytes` at `image` holding `files` (paths like
 * "/Windows/System32/config/SYSTEM"; directories are made as needed).
 */
export async function makeNtfsVolume(image: string, sizeBytes: number, files: Record<string, Buffer>, label = "OS"): Promise<void> {
  if (sizeBytes % MiB !== 0) throw new Error(`makeNtfsVolume: ${sizeBytes} is not a whole number of MiB`);
  await fs.writeFile(image, "");
  await fs.truncate(image, sizeBytes);
  await run("mkntfs", ["-F", "-Q", "-L", label, image]);
  if (Object.keys(files).length === 0) return;
  const tree = await fs.mkdtemp(`${image}.tree-`);
  try {
    for (const [name, data] of Object.entries(files)) {
      await fs.mkdir(path.join(tree, path.dirname(name)), { recursive: true });
      await fs.writeFile(path.join(tree, name), data);
    }
    await run("wimcapture", [tree, `${tree}.wim`, "--no-acls"]);
    await run("wimapply", [`${tree}.wim`, image]);
  } finally {
    await fs.rm(tree, { recursive: true, force: true });
    await fs.rm(`${tree}.wim`, { force: true });
  }
}

/** A file's unnamed data stream as ntfs-3g reads it (names are matched exactly). */
export async function ntfsCat(image: string, name: string): Promise<Buffer> {
  const { stdout } = await run("ntfscat", [image, name], { encoding: "buffer", maxBuffer: 256 * MiB });
  return stdout;
}

/** The names in a directory as ntfsls lists them (long names, without "." and ".."). */
export async function ntfsList(image: string, dir: string): Promise<string[]> {
  const { stdout } = await run("ntfsls", ["-p", dir, image]);
  return stdout.split("\n").filter((name) => name && name !== "." && name !== "..");
}

/** `ntfsfix -n`: checks the volume and writes nothing; rejects when it finds it inconsistent. */
export async function ntfsCheck(image: string): Promise<string> {
  const { stdout } = await run("ntfsfix", ["-n", image]);
  return stdout;
}

/**
 * Sets or clears VOLUME_IS_DIRTY in $Volume's $VOLUME_INFORMATION, in $MFT and in $MFTMirr (a
 * mount compares the two copies), as Windows leaves it after a crash. No tool sets the flag;
 * `ntfsfix -d` clears it. Offsets come from the boot sector; the record's update sequence
 * fixups are left alone (the flag never sits in a sector's last two bytes).
 */
export async function setNtfsDirtyFlag(image: string, dirty: boolean): Promise<void> {
  const file = await fs.open(image, "r+");
  try {
    const boot = Buffer.alloc(512);
    await file.read(boot, 0, 512, 0);
    const cluster = boot.readUInt16LE(0x0b) * boot.readUInt8(0x0d);
    const perRecord = boot.readInt8(0x40);
    const recordSize = perRecord > 0 ? perRecord * cluster : 2 ** -perRecord;
    for (const lcn of [boot.readBigUInt64LE(0x30), boot.readBigUInt64LE(0x38)]) {
      const at = Number(lcn) * cluster + 3 * recordSize; // record 3 is $Volume
      const record = Buffer.alloc(recordSize);
      await file.read(record, 0, recordSize, at);
      if (record.toString("latin1", 0, 4) !== "FILE") throw new Error(`setNtfsDirtyFlag: no FILE record at ${at}`);
      const flags = volumeFlagsOffset(record);
      record.writeUInt16LE(dirty ? record.readUInt16LE(flags) | 1 : record.readUInt16LE(flags) & ~1, flags);
      await file.write(record, 0, recordSize, at);
    }
  } finally {
    await file.close();
  }
}

/** Where the flags of $VOLUME_INFORMATION (attribute 0x70) sit in $Volume's MFT record. */
function volumeFlagsOffset(record: Buffer): number {
  for (let at = record.readUInt16LE(0x14); at + 8 <= record.length; at += record.readUInt32LE(at + 4)) {
    const type = record.readUInt32LE(at);
    if (type === 0xffffffff || record.readUInt32LE(at + 4) === 0) break;
    if (type !== 0x70) continue;
    const flags = at + record.readUInt16LE(at + 0x14) + 10; // reserved u64, major u8, minor u8, flags u16
    if (flags % 512 >= 510) throw new Error("setNtfsDirtyFlag: the flags sit under an update sequence fixup");
    return flags;
  }
  throw new Error("setNtfsDirtyFlag: $Volume has no $VOLUME_INFORMATION");
}
