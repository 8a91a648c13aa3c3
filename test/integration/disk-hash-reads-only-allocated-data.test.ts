import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { hashDisk } from "../../engine/disk";
import { makeSparseDisk, plainSha256, tempDir, TestDiskFormat } from "../helpers/disks";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

// 1 GiB of guest space holding 1 MiB of data in 16 pieces of 64 KiB.
const CASES: { name: string; format: TestDiskFormat; options?: string; maxRead: number }[] = [
  { name: "raw", format: "raw", maxRead: MiB },
  { name: "qcow2", format: "qcow2", maxRead: MiB },
  { name: "vmdk monolithicSparse", format: "vmdk", maxRead: MiB },
  { name: "vhd fixed", format: "vhd", options: "subformat=fixed,force_size=on", maxRead: MiB },
  // A dynamic VHD allocates whole 2 MiB blocks: one per piece.
  { name: "vhd dynamic", format: "vhd", options: "subformat=dynamic,force_size=on", maxRead: 16 * 2 * MiB },
  // Mapped from the VHDX allocation table, refined by the image file's holes.
  { name: "vhdx dynamic", format: "vhdx", maxRead: MiB },
  { name: "vhdx fixed", format: "vhdx", options: "subformat=fixed", maxRead: MiB },
];

describe("disk: hashing reads only the allocated data", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  const never = new AbortController().signal;
  // Not a directory: any attempt to expand the disk to raw would fail, so success proves in-place reading.
  const noWorkDir = "/dev/null/no-work-dir";

  before(async () => {
    tmp = await tempDir("disk-hash-sparse");
  });
  after(() => tmp.remove());

  for (const c of CASES) {
    it(`${c.name}: reads at most ${c.maxRead / MiB} MiB of a 1 GiB disk, in place`, async () => {
      const file = path.join(tmp.dir, `${c.name.replace(/\W+/g, "-")}.${c.format}`);
      await makeSparseDisk({ path: file, format: c.format, options: c.options, virtualSize: GiB, dataBytes: MiB, seed: c.name });
      let bytesRead = 0;
      let reads = 0;
      const started = Date.now();
      const sha = await hashDisk(file, c.format, {
        workDir: noWorkDir,
        signal: never,
        onRead: (_position, length) => {
          bytesRead += length;
          reads++;
        },
      });
      const ms = Date.now() - started;
      assert.match(sha, /^[0-9a-f]{64}$/);
      assert.ok(bytesRead >= MiB, `read ${bytesRead} bytes, less than the data itself`);
      assert.ok(bytesRead <= c.maxRead, `read ${bytesRead} bytes of a disk holding ${MiB}`);
      // Informational: the time is sha256 over 1 GiB (mostly zeros fed from memory), not I/O.
      console.log(`      ${c.name}: ${reads} reads, ${bytesRead} bytes, ${ms} ms`);
    });
  }

  it("the sparse raw hash is the sha256 of all 1 GiB of its bytes", async () => {
    const file = path.join(tmp.dir, "raw.raw");
    assert.equal(await hashDisk(file, "raw", { workDir: noWorkDir, signal: never }), await plainSha256(file, "raw"));
  });

  it("streamOptimized vmdk (compressed: no file offsets) hashes a sparse raw expansion, then removes it", async () => {
    const work = path.join(tmp.dir, "work");
    for (const [format, options] of [["vmdk", "subformat=streamOptimized"]] as const) {
      const file = path.join(tmp.dir, `expand.${format}`);
      await makeSparseDisk({ path: file, format, options, virtualSize: GiB, dataBytes: MiB, seed: "expand" });
      await assert.rejects(hashDisk(file, format, { workDir: noWorkDir, signal: never }), { code: "DISK_TOOL_FAILED" });
      let bytesRead = 0;
      await hashDisk(file, format, { workDir: work, signal: never, onRead: (_p, n) => (bytesRead += n) });
      assert.equal(bytesRead, MiB);
      assert.deepEqual(await fs.readdir(work), []);
    }
  });
});
