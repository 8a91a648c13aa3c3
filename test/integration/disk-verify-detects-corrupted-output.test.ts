import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { allocatedExtents, copyImageFile, convertDisk } from "../../engine/disk";
import { EngineError } from "../../engine/errors";
import { makeSparseDisk, tempDir } from "../helpers/disks";

const MiB = 1024 * 1024;

describe("disk: copyImageFile fails with OUTPUT_VERIFICATION_FAILED when the output differs", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  let source: string;
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-verify");
    source = path.join(tmp.dir, "source.qcow2");
    await makeSparseDisk({ path: source, format: "qcow2", virtualSize: 16 * MiB, dataBytes: 2 * MiB, seed: "verify" });
  });
  after(() => tmp.remove());

  /** Flips one bit inside the first data extent of a fixed VHD (its file offset is the guest offset). */
  async function flipFirstDataByte(file: string): Promise<void> {
    const extent = (await allocatedExtents(file, "vhd", never)).find((e) => e.data && !e.zero)!;
    const fh = await fs.open(file, "r+");
    try {
      const b = Buffer.alloc(1);
      await fh.read(b, 0, 1, extent.offset! + 100);
      b[0]! ^= 0x01;
      await fh.write(b, 0, 1, extent.offset! + 100);
    } finally {
      await fh.close();
    }
  }

  it("a single flipped bit in the output is caught", async () => {
    const target = path.join(tmp.dir, "flipped.vhd");
    await assert.rejects(
      copyImageFile({
        source: { path: source, format: "qcow2" },
        target: { path: target, format: "vhd", subformat: "fixed" },
        workDir: path.join(tmp.dir, "work"),
        signal: never,
        beforeVerify: flipFirstDataByte,
      }),
      (e: unknown) =>
        e instanceof EngineError && e.code === "OUTPUT_VERIFICATION_FAILED" && e.message.includes(target) && e.message.includes(source),
    );
  });

  it("the same run without the flip verifies (the hook is what broke it)", async () => {
    const result = await copyImageFile({
      source: { path: source, format: "qcow2" },
      target: { path: path.join(tmp.dir, "clean.vhd"), format: "vhd", subformat: "fixed" },
      workDir: path.join(tmp.dir, "work"),
      signal: never,
      beforeVerify: async () => undefined,
    });
    assert.match(result.blockDigest, /^[0-9a-f]{64}$/);
    assert.equal(result.sha256, undefined, "the full sha256 is computed only when asked for");
  });

  it("an output replaced by another disk's conversion is caught", async () => {
    const other = path.join(tmp.dir, "other.qcow2");
    await makeSparseDisk({ path: other, format: "qcow2", virtualSize: 16 * MiB, dataBytes: 2 * MiB, seed: "someone else" });
    const target = path.join(tmp.dir, "swapped.vhdx");
    await assert.rejects(
      copyImageFile({
        source: { path: source, format: "qcow2" },
        target: { path: target, format: "vhdx" },
        workDir: path.join(tmp.dir, "work"),
        signal: never,
        beforeVerify: async (file) => {
          await convertDisk({ source: { path: other, format: "qcow2" }, target: { path: file, format: "vhdx" }, signal: never });
        },
      }),
      { code: "OUTPUT_VERIFICATION_FAILED" },
    );
  });

  it("qemu-img failures that are nobody's fault in particular are DISK_TOOL_FAILED with qemu's reason", async () => {
    const target = path.join(tmp.dir, "no-such-dir", "out.qcow2");
    await assert.rejects(
      convertDisk({ source: { path: source, format: "qcow2" }, target: { path: target, format: "qcow2" }, signal: never }),
      (e: unknown) => e instanceof EngineError && e.code === "DISK_TOOL_FAILED" && e.message.includes(target) && /No such file or directory/.test(e.message),
    );
  });
});
