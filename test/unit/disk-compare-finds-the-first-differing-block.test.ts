// A local copy is proven by comparing the source file and the output byte for byte on the
// hashing threads, wherever either holds data (firstDifferenceOffThreads). The comparison must
// see a difference in data, data written where the other file has a hole, and a difference in
// the last, short block; it must report the first differing block whichever thread finds it.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DIGEST_BLOCK } from "../../engine/disk/block-digest";
import { Extent } from "../../engine/disk/extents";
import { MappedFile } from "../../engine/disk/hash-data-blocks";
import { firstDifferenceOffThreads } from "../../engine/disk/hash-workers";

const MiB = DIGEST_BLOCK;
const SIZE = 64 * MiB + 4096; // the last block is short

/** A raw file whose map says data only in `dataAt` (guest offset = file offset). */
function rawFile(dir: string, name: string, content: Buffer, dataAt: Array<[number, number]>): MappedFile {
  const path = join(dir, name);
  writeFileSync(path, content);
  const extents: Extent[] = [...dataAt].sort((x, y) => x[0] - y[0]).map(([start, length]) => ({ start, length, data: true, zero: false, offset: start }));
  return { path, extents };
}

function randomContent(): { bytes: Buffer; dataAt: Array<[number, number]> } {
  const bytes = Buffer.alloc(SIZE);
  const dataAt: Array<[number, number]> = [];
  for (let mib = 0; mib < 64; mib += 3) {
    const start = mib * MiB + 4096;
    const length = MiB;
    for (let i = start; i < start + length; i++) bytes[i] = (i * 2654435761) >>> 24 || 1;
    dataAt.push([start, length]);
  }
  bytes.fill(7, SIZE - 100);
  dataAt.push([SIZE - 4096, 4096]);
  return { bytes, dataAt };
}

describe("disk: comparing a copy with its source finds the first differing block", () => {
  let dir: string;
  const signal = new AbortController().signal;
  before(() => (dir = mkdtempSync(join(tmpdir(), "imageport-compare-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("equal contents compare equal, although the maps differ (zeros mapped as data in one)", async () => {
    const { bytes, dataAt } = randomContent();
    const a = rawFile(dir, "a", bytes, dataAt);
    const b = rawFile(dir, "b", bytes, [[0, SIZE]]);
    assert.equal(await firstDifferenceOffThreads(a, b, SIZE, { signal }), undefined);
  });

  it("a flipped byte in data is found in its block", async () => {
    const { bytes, dataAt } = randomContent();
    const a = rawFile(dir, "a", bytes, dataAt);
    const changed = Buffer.from(bytes);
    changed[39 * MiB + 5000]! ^= 1;
    assert.equal(await firstDifferenceOffThreads(a, rawFile(dir, "b", changed, dataAt), SIZE, { signal }), 39);
  });

  it("data written where the source has a hole is found", async () => {
    const { bytes, dataAt } = randomContent();
    const a = rawFile(dir, "a", bytes, dataAt);
    const changed = Buffer.from(bytes);
    changed[2 * MiB + 10] = 9; // block 2 holds no data in the source
    assert.equal(await firstDifferenceOffThreads(a, rawFile(dir, "b", changed, [...dataAt, [2 * MiB, 4096]]), SIZE, { signal }), 2);
  });

  it("a difference in the short last block is found", async () => {
    const { bytes, dataAt } = randomContent();
    const a = rawFile(dir, "a", bytes, dataAt);
    const changed = Buffer.from(bytes);
    changed[SIZE - 1]! ^= 0xff;
    assert.equal(await firstDifferenceOffThreads(a, rawFile(dir, "b", changed, dataAt), SIZE, { signal }), 64);
  });

  it("of several differences in different slices, the first is reported", async () => {
    const { bytes, dataAt } = randomContent();
    const a = rawFile(dir, "a", bytes, dataAt);
    const changed = Buffer.from(bytes);
    for (const mib of [60, 9, 33]) changed[mib * MiB + 4096]! ^= 1;
    assert.equal(await firstDifferenceOffThreads(a, rawFile(dir, "b", changed, dataAt), SIZE, { signal }), 9);
  });
});
