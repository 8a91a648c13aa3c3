// A content digest that costs work only for non-zero data: the disk is cut into 1 MiB blocks,
// all-zero blocks are left out, and every other block contributes (index, sha256 of its bytes).
// Two disks of the same size have equal block digests exactly when their contents are equal
// (up to sha256 collisions), however their zeros are stored, so it can prove a conversion
// without hashing gigabytes of holes. It is an internal check, not a published checksum.

import { createHash, Hash } from "node:crypto";

export const DIGEST_BLOCK = 1024 * 1024;
const ZEROS = Buffer.alloc(DIGEST_BLOCK);

export class BlockDigest {
  private readonly outer: Hash = createHash("sha256");
  private index = 0;
  /** Bytes of the current block seen so far. */
  private filled = 0;
  /** Leading zero bytes of the current block not yet fed to `inner` (only while it has no data). */
  private pendingZeros = 0;
  /** The current block's hash, started at its first non-zero byte. */
  private inner: Hash | undefined;

  constructor(size: number) {
    const header = Buffer.alloc(8);
    header.writeBigUInt64BE(BigInt(size));
    this.outer.update("imageport-block-digest-v1\n").update(header);
  }

  zeros(length: number): void {
    let left = length;
    while (left > 0) {
      if (!this.inner && this.filled === 0 && left >= DIGEST_BLOCK) {
        // Whole zero blocks contribute nothing: skip them without touching a byte.
        const blocks = Math.floor(left / DIGEST_BLOCK);
        this.index += blocks;
        left -= blocks * DIGEST_BLOCK;
        continue;
      }
      const take = Math.min(left, DIGEST_BLOCK - this.filled);
      if (this.inner) this.inner.update(ZEROS.subarray(0, take));
      else this.pendingZeros += take;
      this.advance(take);
      left -= take;
    }
  }

  data(buf: Buffer): void {
    for (let at = 0; at < buf.length; ) {
      const take = Math.min(buf.length - at, DIGEST_BLOCK - this.filled);
      const slice = buf.subarray(at, at + take);
      if (this.inner) this.inner.update(slice);
      else if (slice.equals(ZEROS.subarray(0, take))) this.pendingZeros += take;
      else {
        this.inner = createHash("sha256");
        this.inner.update(ZEROS.subarray(0, this.pendingZeros)).update(slice);
      }
      this.advance(take);
      at += take;
    }
  }

  /** Hex digest; call once, after exactly `size` bytes were fed. */
  digest(): string {
    if (this.filled > 0) this.closeBlock();
    return this.outer.digest("hex");
  }

  private advance(bytes: number): void {
    this.filled += bytes;
    if (this.filled === DIGEST_BLOCK) this.closeBlock();
  }

  private closeBlock(): void {
    if (this.inner) {
      const index = Buffer.alloc(8);
      index.writeBigUInt64BE(BigInt(this.index));
      this.outer.update(index).update(this.inner.digest());
    }
    this.inner = undefined;
    this.index++;
    this.filled = 0;
    this.pendingZeros = 0;
  }
}
