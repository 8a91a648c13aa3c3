import assert from "node:assert/strict";
import { withoutFileHoles } from "../../engine/disk/extents";

const K = 1024;

describe("disk: a VHDX block's data is split by the image file's holes", () => {
  // Two 8 KiB guest blocks stored out of order in the file: block 0 at file offset 32 K, block 1 at 16 K.
  const blocks = [
    { start: 0, length: 8 * K, data: true, zero: false, offset: 32 * K },
    { start: 8 * K, length: 8 * K, data: true, zero: false, offset: 16 * K },
    { start: 16 * K, length: 8 * K, data: false, zero: true },
  ];
  // The file: data at [16K, 20K) and [36K, 40K), holes elsewhere.
  const file = [
    { start: 0, length: 16 * K, data: true, zero: false, offset: 0 },
    { start: 16 * K, length: 4 * K, data: true, zero: false, offset: 16 * K },
    { start: 20 * K, length: 16 * K, data: false, zero: true, offset: 20 * K },
    { start: 36 * K, length: 4 * K, data: true, zero: false, offset: 36 * K },
  ];

  it("keeps only the written parts as data, with their file offsets, whatever the block order", () => {
    assert.deepEqual(withoutFileHoles(blocks, file), [
      { start: 0, length: 4 * K, data: false, zero: true },
      { start: 4 * K, length: 4 * K, data: true, zero: false, offset: 36 * K },
      { start: 8 * K, length: 4 * K, data: true, zero: false, offset: 16 * K },
      { start: 12 * K, length: 12 * K, data: false, zero: true },
    ]);
  });

  it("keeps data past the end of the file map as data, so a short file fails loudly when read", () => {
    const out = withoutFileHoles([{ start: 0, length: 8 * K, data: true, zero: false, offset: 64 * K }], file);
    assert.deepEqual(out, [{ start: 0, length: 8 * K, data: true, zero: false, offset: 64 * K }]);
  });
});
