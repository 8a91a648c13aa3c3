import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { copyImageFile, DiskFormat } from "../../engine/disk";
import { makeSparseDisk, plainSha256, qemuCompare, qemuImgInfo, tempDir } from "../helpers/disks";

const MiB = 1024 * 1024;

/** The VHD footer's disk type (2 fixed) and current size, read from the file's last 512 bytes. */
async function vhdFooter(file: string): Promise<{ cookie: string; diskType: number; currentSize: number }> {
  const fh = await fs.open(file, "r");
  try {
    const { size } = await fh.stat();
    const footer = Buffer.alloc(512);
    await fh.read(footer, 0, 512, size - 512);
    return { cookie: footer.toString("latin1", 0, 8), diskType: footer.readUInt32BE(60), currentSize: Number(footer.readBigUInt64BE(48)) };
  } finally {
    await fh.close();
  }
}

const CASES: { name: string; format: DiskFormat; size: number; expected: number }[] = [
  { name: "10 MiB + 4 KiB raw", format: "raw", size: 10 * MiB + 4096, expected: 11 * MiB },
  { name: "1,000,000-byte raw (not even whole sectors)", format: "raw", size: 1_000_000, expected: MiB },
  { name: "20 MiB + 512 qcow2", format: "qcow2", size: 20 * MiB + 512, expected: 21 * MiB },
  { name: "exactly 16 MiB vhdx (already aligned)", format: "vhdx", size: 16 * MiB, expected: 16 * MiB },
];

describe("disk: a fixed VHD is a whole number of MiB plus the 512-byte footer", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-fixed-vhd");
  });
  after(() => tmp.remove());

  for (const c of CASES) {
    it(`${c.name} -> fixed VHD of ${c.expected / MiB} MiB + 512 that still verifies`, async () => {
      const source = path.join(tmp.dir, `${c.name.replace(/\W+/g, "-")}.${c.format}`);
      await makeSparseDisk({ path: source, format: c.format, virtualSize: c.size, dataBytes: 256 * 1024, seed: c.name });
      const target = path.join(tmp.dir, `${path.basename(source)}.vhd`);
      const result = await copyImageFile({
        source: { path: source, format: c.format },
        target: { path: target, format: "vhd", subformat: "fixed" },
        workDir: path.join(tmp.dir, "work"),
        signal: never,
        sha256: true,
      });
      assert.equal(result.virtualSize, c.expected);
      assert.equal(result.fileSize, c.expected + 512);
      assert.equal((await fs.stat(target)).size, c.expected + 512);
      assert.equal((await qemuImgInfo(target, "vhd"))["virtual-size"], c.expected);
      assert.deepEqual(await vhdFooter(target), { cookie: "conectix", diskType: 2, currentSize: c.expected });
      assert.equal(await qemuCompare(source, c.format, target, "vhd"), true);
      // The verified hash is the source's content padded with zeros to the rounded size.
      assert.equal(result.sha256, await plainSha256(source, c.format, c.expected));
    });
  }
});
