// A disk that looks like a VM's: a sparse raw image with a GPT partition table and one ext4
// partition holding a tree of seeded pseudo-random files. Made without root, loop devices or
// mounts: sfdisk partitions the image file and `mke2fs -d <dir> -E offset=<partition start>`
// writes the file system, with the files, inside it. The same seed gives the same bytes.

import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { existsSync, promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
const MiB = 1024 * 1024;
const FS_BLOCK = 4096;
/** Every timestamp in the file system (E2FSPROGS_FAKE_TIME for mke2fs's own). */
const FIXED_TIME = 1_700_000_000;
const LINUX_FILESYSTEM = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";

export interface GuestDiskOptions {
  /** Whole MiB, at least 16 MiB. */
  sizeBytes: number;
  seed: number;
  /** Files in the tree (default 16), 4 KiB to 196 KiB each, spread over 4 directories. */
  files?: number;
}

export interface GuestDisk {
  /** The raw image. */
  path: string;
  /** Bytes the image file holds data for (its non-hole extents, as `qemu-img map` reports them). */
  allocatedBytes: number;
}

export async function makeGuestDisk(dir: string, options: GuestDiskOptions): Promise<GuestDisk> {
  const { sizeBytes, seed, files = 16 } = options;
  if (sizeBytes % MiB !== 0 || sizeBytes < 16 * MiB) throw new Error(`makeGuestDisk: sizeBytes ${sizeBytes} is not a whole number of MiB >= 16 MiB`);
  const image = path.join(dir, `guest-${seed}.raw`);
  const tree = await fs.mkdtemp(path.join(dir, "guest-tree-"));
  const draft = `${tree}.raw`;
  try {
    const entries = await writeTree(tree, seed, files, sizeBytes / 4);
    await fs.writeFile(draft, ""); // a fresh file: sparse until something writes
    await fs.truncate(draft, sizeBytes);
    const partition = await writePartitionTable(draft, seed);
    const offset = partition.start * 512;
    const blocks = Math.floor((partition.size * 512) / FS_BLOCK);
    const env = { ...process.env, E2FSPROGS_FAKE_TIME: String(FIXED_TIME) };
    await run(tool("mke2fs"), ["-q", "-F", "-t", "ext4", "-b", String(FS_BLOCK), "-U", uuid(seed, "fs"), "-E", `offset=${offset},hash_seed=${uuid(seed, "hash")}`, "-d", tree, draft, String(blocks)], { env });
    // mke2fs -d copies each file's ctime (which nothing can set) and owner: pin them.
    const pins = ["/", ...entries].flatMap((p) => [
      ...["ctime", "atime", "mtime", "crtime"].map((field) => `set_inode_field ${p} ${field} @${FIXED_TIME}`),
      `set_inode_field ${p} uid 0`,
      `set_inode_field ${p} gid 0`,
    ]);
    const commands = path.join(tree, "..", `${path.basename(tree)}.debugfs`);
    await fs.writeFile(commands, pins.join("\n") + "\n");
    try {
      await run(tool("debugfs"), ["-w", "-f", commands, `${draft}?offset=${offset}`], { env });
    } finally {
      await fs.rm(commands, { force: true });
    }
    // mke2fs zeroes its journal with fallocate: unwritten extents that SEEK_DATA calls data or
    // hole depending on the page cache. qemu-img copies only the non-zero blocks, so the image's
    // holes (and allocatedBytes) do not depend on what was read before.
    await run("qemu-img", ["convert", "-f", "raw", "-O", "raw", draft, image]);
  } finally {
    await fs.rm(tree, { recursive: true, force: true });
    await fs.rm(draft, { force: true });
  }
  return { path: image, allocatedBytes: await allocatedBytes(image) };
}

/** Seeded files under tree/dir-<n>/; returns their paths inside the file system, directories first. */
async function writeTree(tree: string, seed: number, files: number, budget: number): Promise<string[]> {
  const next = keystream(seed);
  const dirs = [...new Set(Array.from({ length: files }, (_, i) => `/dir-${i % 4}`))];
  const names: string[] = [];
  let total = 0;
  for (const d of dirs) await fs.mkdir(path.join(tree, d));
  for (let i = 0; i < files; i++) {
    const size = FS_BLOCK + (next(4).readUInt32LE(0) % (192 * 1024)); // mostly not whole blocks
    total += size;
    if (total > budget) throw new Error(`makeGuestDisk: ${files} files do not fit a quarter of the disk; use fewer files or a bigger disk`);
    const name = `/dir-${i % 4}/file-${i}.bin`;
    await fs.writeFile(path.join(tree, name), next(size));
    names.push(name);
  }
  for (const p of [...names, ...dirs, "/"]) await fs.utimes(path.join(tree, p), FIXED_TIME, FIXED_TIME);
  return [...dirs, ...names];
}

/** GPT with one Linux partition from 1 MiB to the last whole MiB; answers where it lies (sectors). */
async function writePartitionTable(image: string, seed: number): Promise<{ start: number; size: number }> {
  const script = [
    "label: gpt",
    `label-id: ${uuid(seed, "disk")}`,
    "first-lba: 2048",
    `start=2048, type=${LINUX_FILESYSTEM}, uuid=${uuid(seed, "partition")}, name="imageport-guest"`,
  ].join("\n");
  const sfdisk = run(tool("sfdisk"), ["--quiet", "--no-reread", "--no-tell-kernel", image]);
  sfdisk.child.stdin!.end(script + "\n");
  await sfdisk;
  const { stdout } = await run(tool("sfdisk"), ["--json", image]);
  const [partition] = (JSON.parse(stdout) as { partitiontable: { partitions: Array<{ start: number; size: number }> } }).partitiontable.partitions;
  return partition;
}

async function allocatedBytes(image: string): Promise<number> {
  const { stdout } = await run("qemu-img", ["map", "-f", "raw", "--output=json", image]);
  return (JSON.parse(stdout) as Array<{ length: number; data: boolean }>).filter((e) => e.data).reduce((n, e) => n + e.length, 0);
}

/** Deterministic bytes: AES-128-CTR keystream keyed by the seed. */
function keystream(seed: number) {
  const key = createHash("sha256").update(`guest-disk/${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return (length: number) => cipher.update(Buffer.alloc(length));
}

/** A version-4-shaped UUID derived from the seed, so the same seed names everything the same. */
function uuid(seed: number, purpose: string): string {
  const b = createHash("sha256").update(`guest-disk/${seed}/${purpose}`).digest().subarray(0, 16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = b.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** e2fsprogs and fdisk install to /usr/sbin (or /sbin), often not on a user's PATH. */
function tool(name: string): string {
  return ["/usr/sbin", "/sbin"].map((d) => path.join(d, name)).find((p) => existsSync(p)) ?? name;
}
