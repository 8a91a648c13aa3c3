import assert from "node:assert/strict";
import { BlockDigest, DIGEST_BLOCK } from "../../engine/disk/block-digest";

/** A deterministic generator of split points, so every run tests the same layouts. */
function rng(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
}

/** Feeds `content` in random pieces; zero bytes go in randomly as zeros() or as data(). */
function digestOf(content: Buffer, seed: number): string {
  const next = rng(seed);
  const d = new BlockDigest(content.length);
  for (let at = 0; at < content.length; ) {
    const len = Math.min(content.length - at, 1 + next(3 * DIGEST_BLOCK));
    const piece = content.subarray(at, at + len);
    if (piece.equals(Buffer.alloc(len)) && next(2) === 0) d.zeros(len);
    else d.data(piece);
    at += len;
  }
  return d.digest();
}

describe("disk: the block digest depends on the content only, and on every byte of it", () => {
  const size = 5 * DIGEST_BLOCK + 12345; // ends in a partial block
  const content = Buffer.alloc(size);
  content.fill(7, DIGEST_BLOCK + 100, DIGEST_BLOCK + 200); // data after zeros inside block 1
  content.fill(9, 3 * DIGEST_BLOCK - 10, 3 * DIGEST_BLOCK + 10); // data across a block boundary
  content.fill(1, size - 5, size); // data in the partial last block

  it("is the same however the content is split and however its zeros are fed", () => {
    const reference = digestOf(content, 1);
    for (let seed = 2; seed < 30; seed++) assert.equal(digestOf(content, seed), reference, `seed ${seed}`);
  });

  it("changes when any single byte changes, zero or not, first or last", () => {
    const reference = digestOf(content, 1);
    for (const at of [0, DIGEST_BLOCK - 1, DIGEST_BLOCK + 150, 2 * DIGEST_BLOCK + 5, 3 * DIGEST_BLOCK, size - 1, size - 6]) {
      const changed = Buffer.from(content);
      changed[at]! ^= 0x40;
      assert.notEqual(digestOf(changed, 3), reference, `byte ${at}`);
    }
  });

  it("changes with the size even when the extra bytes are zeros, and with block order", () => {
    const d = new BlockDigest(size + 512);
    d.data(content);
    d.zeros(512);
    assert.notEqual(d.digest(), digestOf(content, 1));
    const swapped = Buffer.alloc(size);
    content.copy(swapped, 0, DIGEST_BLOCK, 2 * DIGEST_BLOCK);
    content.copy(swapped, DIGEST_BLOCK, 0, DIGEST_BLOCK);
    content.copy(swapped, 2 * DIGEST_BLOCK, 2 * DIGEST_BLOCK);
    assert.notEqual(digestOf(swapped, 1), digestOf(content, 1));
  });

  it("skips whole zero blocks without touching them (a 1 TiB hole is instant)", () => {
    const started = Date.now();
    const d = new BlockDigest(2 ** 40);
    d.zeros(2 ** 40);
    assert.match(d.digest(), /^[0-9a-f]{64}$/);
    assert.ok(Date.now() - started < 100);
  });
});
