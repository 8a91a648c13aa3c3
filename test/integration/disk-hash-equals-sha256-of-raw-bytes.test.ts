import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import { hashDisk } from "../../engine/disk";
import { digestImage } from "../../engine/disk/hash";
import { inspectImage } from "../../engine/disk/inspect";
import { recomputeBlockDigest } from "../helpers/block-digest-oracle";
import { makeSparseDisk, plainSha256, tempDir, TestDiskFormat } from "../helpers/disks";

const MiB = 1024 * 1024;

// One seeded content in every format qemu writes; hashDisk must equal sha256 over the raw bytes.
const VARIANTS: { name: string; format: TestDiskFormat; options?: string; convertFlags?: string[] }[] = [
  { name: "raw", format: "raw" },
  { name: "qcow2", format: "qcow2" },
  { name: "qcow2 compressed", format: "qcow2", convertFlags: ["-c"] },
  { name: "vmdk monolithicSparse", format: "vmdk" },
  { name: "vmdk streamOptimized", format: "vmdk", options: "subformat=streamOptimized" },
  { name: "vhd dynamic (CHS-sized)", format: "vhd", options: "subformat=dynamic" },
  { name: "vhd dynamic force_size", format: "vhd", options: "subformat=dynamic,force_size=on" },
  { name: "vhd fixed", format: "vhd", options: "subformat=fixed,force_size=on" },
  { name: "vhdx dynamic", format: "vhdx" },
  { name: "vhdx fixed", format: "vhdx", options: "subformat=fixed" },
];

describe("disk: hashDisk equals sha256 of the disk's raw bytes", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  let work: string;
  const virtualSize = 24 * MiB + 3 * 512; // not MiB-aligned on purpose
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-hash");
    work = path.join(tmp.dir, "work");
    await fs.mkdir(work);
  });
  after(() => tmp.remove());

  for (const v of VARIANTS) {
    it(`${v.name}: equal to the plain hash, also when padded to a larger size`, async () => {
      const file = path.join(tmp.dir, `${v.name.replace(/\W+/g, "-")}.${v.format}`);
      const spec = { path: file, format: v.format, virtualSize, dataBytes: 3 * MiB, seed: "hash-test" };
      await makeSparseDisk({ ...spec, options: v.options, convertFlags: v.convertFlags });
      const expected = await plainSha256(file, v.format);
      assert.equal(await hashDisk(file, v.format, { workDir: work, signal: never }), expected);
      const padTo = 26 * MiB;
      assert.equal(await hashDisk(file, v.format, { size: padTo, workDir: work, signal: never }), await plainSha256(file, v.format, padTo));
      assert.deepEqual(await fs.readdir(work), [], "temporary expansions are removed");
    });

    it(`${v.name}: the block digest, split over hashing threads, equals a recomputation from the raw bytes`, async () => {
      const file = path.join(tmp.dir, `${v.name.replace(/\W+/g, "-")}.${v.format}`);
      const raw = path.join(tmp.dir, "oracle.raw");
      execFileSync("qemu-img", ["convert", "-f", v.format === "vhd" ? "vpc" : v.format, "-O", "raw", file, raw]);
      try {
        const image = await inspectImage(file, v.format, never, "source");
        const padTo = 26 * MiB;
        for (const size of [image.virtualSize, padTo]) {
          const digest = await digestImage(image, { sha256: false, blocks: true }, { size, workDir: work, signal: never });
          assert.equal(digest.blocks, recomputeBlockDigest(raw, size), `size ${size}`);
          assert.equal(digest.sha256, undefined);
        }
      } finally {
        await fs.rm(raw, { force: true });
      }
    });
  }

  it("every variant holds the same content, so the hashes of equal-size variants agree", async () => {
    // Only the CHS-sized dynamic VHD has another virtual size; pad all to the same size to compare.
    const files = await fs.readdir(tmp.dir);
    const hashes = new Set<string>();
    for (const v of VARIANTS) {
      const file = path.join(tmp.dir, `${v.name.replace(/\W+/g, "-")}.${v.format}`);
      assert.ok(files.includes(path.basename(file)));
      hashes.add(await hashDisk(file, v.format, { size: 26 * MiB, workDir: work, signal: never }));
    }
    assert.equal(hashes.size, 1);
  });

  it("refuses to hash fewer bytes than the disk holds", async () => {
    const file = path.join(tmp.dir, "raw.raw");
    await assert.rejects(hashDisk(file, "raw", { size: MiB, workDir: work, signal: never }), { code: "DISK_NOT_CONVERTIBLE" });
  });
});
