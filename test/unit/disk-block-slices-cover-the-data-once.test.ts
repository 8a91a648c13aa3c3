// The block digest of a file is split over hashing threads by sliceByData: the slices must
// cover every block that holds data exactly once, in order, and share the data about evenly,
// and never look at blocks without data (a 1 TiB disk with a few extents gives a few blocks).

import assert from "node:assert/strict";
import { DIGEST_BLOCK } from "../../engine/disk/block-digest";
import { Extent } from "../../engine/disk/extents";
import { sliceByData } from "../../engine/disk/hash-data-blocks";

const MiB = DIGEST_BLOCK;

/** Blocks that hold data, as the extents say. */
function dataBlocks(extents: Extent[], size: number): Set<number> {
  const blocks = new Set<number>();
  for (const e of extents) {
    if (e.zero) continue;
    for (let b = Math.floor(e.start / MiB); b * MiB < Math.min(size, e.start + e.length); b++) blocks.add(b);
  }
  return blocks;
}

describe("disk: block slices cover the data blocks once and share the data evenly", () => {
  const size = 2 ** 40; // 1 TiB
  const extents: Extent[] = [];
  for (let i = 0; i < 40; i++) {
    const start = i * 25 * 1024 * MiB + (i % 3) * 4096;
    extents.push({ start, length: (1 + (i % 5)) * 700 * 1024, data: true, zero: false, offset: i * 8 * MiB });
    extents.push({ start: start + 4 * MiB, length: 64 * 1024, data: true, zero: true }); // reads as zeros: not data
  }

  for (const count of [1, 2, 3, 4, 7]) {
    it(`${count} slice(s): disjoint, in order, every data block once, none without data`, () => {
      const slices = sliceByData(extents, size, count);
      assert.ok(slices.length <= count && slices.length > 0);
      const covered: number[] = [];
      for (let i = 0; i < slices.length; i++) {
        const s = slices[i]!;
        assert.ok(s.fromBlock < s.toBlock);
        if (i > 0) assert.ok(slices[i - 1]!.toBlock <= s.fromBlock, "slices do not overlap");
      }
      const expected = dataBlocks(extents, size);
      for (const b of expected) {
        const owners = slices.filter((s) => b >= s.fromBlock && b < s.toBlock);
        assert.equal(owners.length, 1, `block ${b} is in exactly one slice`);
        covered.push(b);
      }
      const total = slices.reduce((n, s) => n + s.dataBytes, 0);
      assert.equal(total, extents.filter((e) => !e.zero).reduce((n, e) => n + e.length, 0));
      const largest = Math.max(...slices.map((s) => s.dataBytes));
      assert.ok(largest <= total / slices.length + 5 * 700 * 1024 + MiB, `slices share the data evenly (largest ${largest} of ${total})`);
    });
  }

  it("a disk without data gives no slices", () => {
    assert.deepEqual(sliceByData([{ start: 0, length: size, data: false, zero: true }], size, 4), []);
  });
});
