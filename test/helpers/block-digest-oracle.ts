// The block digest as docs/engine.md defines it, written out from the definition and not from
// the engine's code, so tests can check the engine's digests against it.

import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";

const MIB = 1024 * 1024;

/**
 * sha256 over "imageport-block-digest-v1\n", the size as 8 bytes big-endian, then for every
 * 1 MiB block of the raw content that is not all zeros its index (8 bytes big-endian) and the
 * sha256 of its bytes. Bytes past the file's end count as zeros.
 */
export function recomputeBlockDigest(rawPath: string, size: number): string {
  const outer = createHash("sha256").update("imageport-block-digest-v1\n");
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(size));
  outer.update(header);
  const block = Buffer.alloc(MIB);
  const fd = openSync(rawPath, "r");
  try {
    for (let index = 0; index * MIB < size; index++) {
      const length = Math.min(MIB, size - index * MIB);
      block.fill(0);
      readSync(fd, block, 0, length, index * MIB);
      const piece = block.subarray(0, length);
      if (piece.every((b) => b === 0)) continue;
      const idx = Buffer.alloc(8);
      idx.writeBigUInt64BE(BigInt(index));
      outer.update(idx).update(createHash("sha256").update(piece).digest());
    }
  } finally {
    closeSync(fd);
  }
  return outer.digest("hex");
}

/** recomputeBlockDigest of content held in memory (zeros past its end up to `size`). */
export function blockDigestOfBytes(bytes: Buffer, size = bytes.length): string {
  const outer = createHash("sha256").update("imageport-block-digest-v1\n");
  const header = Buffer.alloc(8);
  header.writeBigUInt64BE(BigInt(size));
  outer.update(header);
  for (let index = 0; index * MIB < Math.min(size, bytes.length); index++) {
    const piece = bytes.subarray(index * MIB, Math.min(size, (index + 1) * MIB));
    if (piece.every((b) => b === 0)) continue;
    const idx = Buffer.alloc(8);
    idx.writeBigUInt64BE(BigInt(index));
    outer.update(idx).update(createHash("sha256").update(piece).digest());
  }
  return outer.digest("hex");
}

/** The block digest of a disk image's guest content: qemu-img expands it to raw, then recomputeBlockDigest. */
export function independentBlockDigest(path: string, format: string, scratch: string): string {
  const raw = join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", path, raw]);
  try {
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-f", "raw", raw]).toString()) as { "virtual-size": number };
    return recomputeBlockDigest(raw, info["virtual-size"]);
  } finally {
    rmSync(raw, { force: true });
  }
}
