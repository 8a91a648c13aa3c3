// Test disks and oracles built with qemu-img directly (never through engine/disk, so they can
// judge it): seeded sparse disks in any format, `qemu-img compare`, `qemu-img info`, and the
// sha256 of a disk's content computed the plain way (expand to raw, hash every byte).

import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export type TestDiskFormat = "raw" | "qcow2" | "vmdk" | "vhd" | "vhdx";

const driver = (format: TestDiskFormat) => (format === "vhd" ? "vpc" : format);

export interface SparseDiskSpec {
  path: string;
  format: TestDiskFormat;
  virtualSize: number;
  /** Bytes of pseudo-random data, spread over the disk in `chunk`-sized pieces. */
  dataBytes: number;
  seed: string | number;
  /** Piece size (default 64 KiB); pieces start on 4 KiB boundaries. */
  chunk?: number;
  /** qemu-img -o options for the final format, e.g. "subformat=fixed,force_size=on". */
  options?: string;
  /** Extra qemu-img convert flags for the final format, e.g. ["-c"] for compressed qcow2. */
  convertFlags?: string[];
}

export interface SparseDisk {
  path: string;
  virtualSize: number;
  dataBytes: number;
}

/** Deterministic bytes: AES-128-CTR keystream keyed by the seed. */
function keystream(seed: string | number) {
  const key = createHash("sha256").update(String(seed)).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return (length: number) => cipher.update(Buffer.alloc(length));
}

/** Writes seeded data into a sparse raw file, then converts it to the wanted format. */
export async function makeSparseDisk(spec: SparseDiskSpec): Promise<SparseDisk> {
  const chunk = spec.chunk ?? 64 * 1024;
  const pieces = Math.ceil(spec.dataBytes / chunk);
  const stride = pieces > 0 ? Math.floor(spec.virtualSize / pieces / 4096) * 4096 : 0;
  if (pieces > 0 && stride < chunk) throw new Error(`makeSparseDisk: ${spec.dataBytes} bytes do not fit as spread pieces`);
  const raw = spec.format === "raw" ? spec.path : `${spec.path}.src-${process.pid}.raw`;
  const next = keystream(spec.seed);
  const fh = await fs.open(raw, "w");
  try {
    await fh.truncate(spec.virtualSize);
    for (let i = 0, left = spec.dataBytes; i < pieces; i++, left -= chunk) {
      const length = Math.min(chunk, left);
      await fh.write(next(length), 0, length, i * stride);
    }
  } finally {
    await fh.close();
  }
  if (spec.format !== "raw") {
    try {
      const opts = spec.options ? ["-o", spec.options] : [];
      await run("qemu-img", ["convert", ...(spec.convertFlags ?? []), "-f", "raw", "-O", driver(spec.format), ...opts, raw, spec.path]);
    } finally {
      await fs.rm(raw, { force: true });
    }
  }
  return { path: spec.path, virtualSize: spec.virtualSize, dataBytes: spec.dataBytes };
}

/** The oracle: `qemu-img compare` says the two disks read the same (rc 0) or differ (rc 1). */
export async function qemuCompare(a: string, fmtA: TestDiskFormat, b: string, fmtB: TestDiskFormat): Promise<boolean> {
  try {
    await run("qemu-img", ["compare", "-f", driver(fmtA), "-F", driver(fmtB), a, b]);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 1) return false;
    throw error;
  }
}

export async function qemuImgInfo(file: string, fmt: TestDiskFormat): Promise<Record<string, any>> {
  const { stdout } = await run("qemu-img", ["info", "-f", driver(fmt), "--output=json", file]);
  return JSON.parse(stdout) as Record<string, any>;
}

/**
 * sha256 of a disk's content the slow, obvious way: expand it to a raw file with qemu-img and
 * hash every byte of it, then `padTo - size` zero bytes.
 */
export async function plainSha256(file: string, fmt: TestDiskFormat, padTo?: number): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "plain-sha-"));
  try {
    const raw = path.join(dir, "disk.raw");
    await run("qemu-img", ["convert", "-f", driver(fmt), "-O", "raw", file, raw]);
    const hash = createHash("sha256");
    let size = 0;
    for await (const data of createReadStream(raw, { highWaterMark: 1 << 20 })) {
      hash.update(data as Buffer);
      size += (data as Buffer).length;
    }
    if (padTo !== undefined && padTo > size) {
      const zeros = Buffer.alloc(1 << 20);
      for (let left = padTo - size; left > 0; left -= zeros.length) hash.update(zeros.subarray(0, Math.min(left, zeros.length)));
    }
    return hash.digest("hex");
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** A fresh temp directory, removed by the returned function. */
export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `${prefix}-`));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}
