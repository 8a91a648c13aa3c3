// SparseBlockDigest takes (offset, data) pieces in any order plus the data ranges, as the
// copier sees qemu-img's parallel reads; it must give exactly BlockDigest's hex for the same
// content, count a piece read twice once, ignore bytes outside the ranges, and refuse to give
// a digest while any data byte is missing.

import assert from "node:assert/strict";
import { BlockDigest, DIGEST_BLOCK, SparseBlockDigest } from "../../engine/disk/block-digest";
import { DataRange } from "../../engine/disk/source";
import { EngineError } from "../../engine/errors";

/** A deterministic generator, so every run tests the same layouts. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

interface Disk {
  content: Buffer;
  ranges: DataRange[];
}

/** Random data ranges (some across block boundaries, some tiny, one all zeros) over zeros. */
function randomDisk(seed: number, size: number): Disk {
  const next = rng(seed);
  const content = Buffer.alloc(size);
  const ranges: DataRange[] = [];
  let at = next(64 * 1024);
  while (at < size) {
    const length = Math.min(size - at, 1 + next(next(4) === 0 ? 3 * DIGEST_BLOCK : 200 * 1024));
    ranges.push({ start: at, length });
    const kind = next(5);
    if (kind === 0) {
      // a range that is all zeros: it holds no data after all
    } else {
      for (let i = at; i < at + length; i++) content[i] = next(256);
      // zeros inside data, as real disks have
      if (kind === 1 && length > 100) content.fill(0, at + 10, at + Math.floor(length / 2));
    }
    at += length + next(2 * DIGEST_BLOCK) + 1;
  }
  return { content, ranges };
}

/** The data of the ranges cut into random pieces, shuffled, with some read twice and some spilling into holes. */
function randomPieces(disk: Disk, seed: number): { offset: number; data: Buffer }[] {
  const next = rng(seed);
  const pieces: { offset: number; data: Buffer }[] = [];
  for (const r of disk.ranges) {
    for (let at = r.start; at < r.start + r.length; ) {
      const length = Math.min(r.start + r.length - at, 1 + next(2 * DIGEST_BLOCK));
      pieces.push({ offset: at, data: disk.content.subarray(at, at + length) });
      at += length;
    }
  }
  const repeats = pieces.filter(() => next(8) === 0).map((p) => ({ ...p }));
  const spills = disk.ranges
    .filter(() => next(4) === 0)
    .map((r) => {
      const from = Math.max(0, r.start - 4096);
      const to = Math.min(disk.content.length, r.start + r.length + 4096);
      return { offset: from, data: disk.content.subarray(from, to) };
    });
  const all = [...pieces, ...repeats, ...spills];
  for (let i = all.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [all[i], all[j]] = [all[j]!, all[i]!];
  }
  return all;
}

function blockDigestOf(content: Buffer, size = content.length): string {
  const d = new BlockDigest(size);
  d.data(content);
  d.zeros(size - content.length);
  return d.digest();
}

describe("disk: the sparse block digest equals the block digest, whatever order the pieces come in", () => {
  const size = 9 * DIGEST_BLOCK + 12345; // ends in a partial block

  for (let seed = 1; seed <= 12; seed++) {
    it(`random content and random out-of-order pieces (seed ${seed}) give BlockDigest's hex`, async () => {
      const disk = randomDisk(seed, size);
      const sparse = new SparseBlockDigest(size, disk.ranges);
      for (const p of randomPieces(disk, seed * 7919)) sparse.add(p.offset, p.data);
      assert.equal(await sparse.digest(), blockDigestOf(disk.content));
    });
  }

  it("pieces in order, whole blocks in one piece (the copier's common case), equal too", async () => {
    const disk = randomDisk(99, size);
    const sparse = new SparseBlockDigest(size, disk.ranges);
    for (const r of disk.ranges) sparse.add(r.start, disk.content.subarray(r.start, r.start + r.length));
    assert.equal(await sparse.digest(), blockDigestOf(disk.content));
  });

  it("a disk that is all data, fed as whole blocks in reverse order", async () => {
    const next = rng(5);
    const content = Buffer.alloc(4 * DIGEST_BLOCK);
    for (let i = 0; i < content.length; i += 97) content[i] = 1 + next(255);
    const sparse = new SparseBlockDigest(content.length, [{ start: 0, length: content.length }]);
    for (let b = 3; b >= 0; b--) sparse.add(b * DIGEST_BLOCK, content.subarray(b * DIGEST_BLOCK, (b + 1) * DIGEST_BLOCK));
    assert.equal(await sparse.digest(), blockDigestOf(content));
  });

  it("a larger size than the data (a target grown to whole MiB) matches BlockDigest of the padded content", async () => {
    const disk = randomDisk(3, size);
    const padded = size + 3 * DIGEST_BLOCK + 512;
    const sparse = new SparseBlockDigest(padded, disk.ranges);
    for (const p of randomPieces(disk, 31)) sparse.add(p.offset, p.data);
    assert.equal(await sparse.digest(), blockDigestOf(disk.content, padded));
  });

  it("no data ranges at all: the digest of an empty disk of that size, instantly even for 1 TiB", async () => {
    const started = Date.now();
    assert.equal(await new SparseBlockDigest(2 ** 40, []).digest(), blockDigestOf(Buffer.alloc(0), 2 ** 40));
    assert.ok(Date.now() - started < 100);
  });

  it("a changed data byte changes the digest", async () => {
    const disk = randomDisk(4, size);
    const r = disk.ranges[Math.floor(disk.ranges.length / 2)]!;
    const changed = Buffer.from(disk.content);
    changed[r.start + Math.floor(r.length / 2)]! ^= 0x20;
    const sparse = new SparseBlockDigest(size, disk.ranges);
    for (const p of randomPieces({ content: changed, ranges: disk.ranges }, 8)) sparse.add(p.offset, p.data);
    const digest = await sparse.digest();
    assert.equal(digest, blockDigestOf(changed));
    assert.notEqual(digest, blockDigestOf(disk.content));
  });

  it("a missing piece fails with a clear, coded error naming the bytes that never arrived", async () => {
    const disk = randomDisk(6, size);
    // Each data byte in exactly one piece, shuffled; one piece from the middle goes missing.
    const pieces = randomPieces({ content: disk.content, ranges: disk.ranges }, 17).filter((p) =>
      disk.ranges.some((r) => p.offset >= r.start && p.offset + p.data.length <= r.start + r.length),
    );
    const unique = pieces.filter((p, i) => pieces.findIndex((q) => q.offset === p.offset) === i);
    const dropped = Math.floor(unique.length / 2);
    const gone = unique[dropped]!;
    const sparse = new SparseBlockDigest(size, disk.ranges);
    unique.forEach((p, i) => i !== dropped && sparse.add(p.offset, p.data));
    await assert.rejects(
      () => sparse.digest(),
      (error: unknown) => {
        assert.ok(error instanceof EngineError);
        assert.equal(error.code, "OUTPUT_VERIFICATION_FAILED");
        assert.match(error.message, /did not receive all of the source's data/);
        const [, from, to] = /bytes (\d+) to (\d+) never arrived/.exec(error.message) ?? [];
        assert.ok(Number(from) >= gone.offset && Number(to) <= gone.offset + gone.data.length, error.message);
        return true;
      },
    );
  });
});
