import assert from "node:assert/strict";
import * as path from "node:path";
import { allocatedExtents, Extent } from "../../engine/disk";
import { makeSparseDisk, tempDir, TestDiskFormat } from "../helpers/disks";

const MiB = 1024 * 1024;

/** Guest bytes of the extents that hold non-zero data. */
const dataBytes = (extents: Extent[]) => extents.filter((e) => e.data && !e.zero).reduce((n, e) => n + e.length, 0);

describe("disk: allocatedExtents maps data, holes and file offsets (as qemu-img 7.2 reports them)", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  const never = new AbortController().signal;
  // 4 pieces of 64 KiB spread over 64 MiB: at 0, 16, 32 and 48 MiB.
  const make = async (format: TestDiskFormat, options?: string) => {
    const file = path.join(tmp.dir, `${format}-${(options ?? "").replace(/\W+/g, "-")}.${format}`);
    await makeSparseDisk({ path: file, format, options, virtualSize: 64 * MiB, dataBytes: 256 * 1024, seed: "map" });
    return allocatedExtents(file, format, never);
  };

  before(async () => {
    tmp = await tempDir("disk-map");
  });
  after(() => tmp.remove());

  const covers = (extents: Extent[]) => {
    let at = 0;
    for (const e of extents) {
      assert.equal(e.start, at);
      at += e.length;
    }
    assert.equal(at, 64 * MiB);
  };

  for (const [format, options] of [["raw"], ["qcow2"], ["vmdk"], ["vhd", "subformat=fixed,force_size=on"]] as [TestDiskFormat, string?][]) {
    it(`${format} ${options ?? ""}: contiguous, 256 KiB of data with file offsets, the rest zero`, async () => {
      const extents = await make(format, options);
      covers(extents);
      assert.equal(dataBytes(extents), 256 * 1024);
      for (const e of extents.filter((x) => x.data && !x.zero)) assert.equal(typeof e.offset, "number");
      for (const at of [0, 16, 32, 48]) assert.ok(extents.some((e) => e.data && !e.zero && e.start === at * MiB), `data at ${at} MiB`);
    });
  }

  it("vhd dynamic: data in whole 2 MiB blocks with file offsets", async () => {
    const extents = await make("vhd", "subformat=dynamic,force_size=on");
    covers(extents);
    assert.equal(dataBytes(extents), 4 * 2 * MiB);
    assert.ok(extents.every((e) => e.zero || e.offset !== undefined));
  });

  it("vhdx: mapped from its own allocation table and the file's holes (qemu 7.2 reports one extent without offsets)", async () => {
    const extents = await make("vhdx");
    covers(extents);
    assert.equal(dataBytes(extents), 256 * 1024, "only the written bytes, not the whole 8 MiB blocks");
    for (const e of extents.filter((x) => x.data && !x.zero)) assert.equal(typeof e.offset, "number");
    for (const at of [0, 16, 32, 48]) assert.ok(extents.some((e) => e.data && !e.zero && e.start === at * MiB), `data at ${at} MiB`);
  });

  it("vhdx fixed: every block present, the file's holes still read as zeros", async () => {
    const extents = await make("vhdx", "subformat=fixed");
    covers(extents);
    assert.equal(dataBytes(extents), 256 * 1024);
  });

  it("streamOptimized vmdk: holes are mapped, compressed data has no offset", async () => {
    const extents = await make("vmdk", "subformat=streamOptimized");
    covers(extents);
    assert.equal(dataBytes(extents), 256 * 1024);
    assert.ok(extents.filter((e) => e.data && !e.zero).every((e) => e.offset === undefined));
  });
});
