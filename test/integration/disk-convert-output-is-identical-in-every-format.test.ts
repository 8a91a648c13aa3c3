import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { copyImageFile, convertDisk, DiskFormat, inspectDisk } from "../../engine/disk";
import { makeSparseDisk, plainSha256, qemuCompare, qemuImgInfo, tempDir } from "../helpers/disks";

const MiB = 1024 * 1024;

const TARGETS: { format: DiskFormat; subformat?: string; reported?: string }[] = [
  { format: "raw" },
  { format: "qcow2" },
  { format: "vmdk", reported: "monolithicSparse" },
  { format: "vmdk", subformat: "streamOptimized", reported: "streamOptimized" },
  { format: "vhd", reported: "dynamic" },
  { format: "vhd", subformat: "fixed", reported: "fixed" },
  { format: "vhdx", reported: "dynamic" },
  { format: "vhdx", subformat: "fixed", reported: "fixed" },
];

describe("disk: copyImageFile writes every format and subformat with identical content", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  let work: string;
  let source: string;
  let sourceSize: number;
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-convert");
    work = path.join(tmp.dir, "work");
    source = path.join(tmp.dir, "source.qcow2");
    sourceSize = 40 * MiB + 7 * 512;
    await makeSparseDisk({ path: source, format: "qcow2", virtualSize: sourceSize, dataBytes: 6 * MiB, seed: "convert" });
  });
  after(() => tmp.remove());

  for (const t of TARGETS) {
    const label = `${t.format}${t.subformat ? ` ${t.subformat}` : ""}`;
    it(`qcow2 -> ${label}: identical per qemu-img compare, equal hashes, right size and subformat`, async () => {
      const target = path.join(tmp.dir, `out-${label.replace(/\W+/g, "-")}.${t.format}`);
      const fractions: number[] = [];
      const result = await copyImageFile({
        source: { path: source, format: "qcow2" },
        target: { path: target, format: t.format, subformat: t.subformat },
        workDir: work,
        signal: never,
        sha256: true,
        onProgress: (f) => fractions.push(f),
      });
      assert.equal(await qemuCompare(source, "qcow2", target, t.format), true);
      assert.equal(result.sha256, await plainSha256(target, t.format));
      assert.equal(result.sha256, await plainSha256(source, "qcow2", result.virtualSize));
      const info = await qemuImgInfo(target, t.format);
      assert.equal(info["virtual-size"], result.virtualSize);
      assert.equal((await fs.stat(target)).size, result.fileSize);
      if (t.format === "vhd" && t.subformat === "fixed") {
        assert.equal(result.virtualSize, 41 * MiB, "rounded up to a whole MiB");
        assert.equal(result.fileSize, 41 * MiB + 512);
      } else {
        assert.equal(result.virtualSize, sourceSize);
      }
      if (t.reported) assert.equal((await inspectDisk(target, t.format, never)).subformat, t.reported);
      assert.ok(fractions.length >= 2);
      assert.ok(fractions.every((f, i) => f >= 0 && f <= 1 && (i === 0 || f >= fractions[i - 1]!)), "progress only moves forward");
      assert.equal(fractions[fractions.length - 1], 1);
      assert.deepEqual(await fs.readdir(work).catch(() => []), [], "no scratch files left");
    });
  }

  it("grows the target to a requested larger size, and the padding reads as zeros", async () => {
    const target = path.join(tmp.dir, "grown.vhdx");
    const result = await copyImageFile({
      source: { path: source, format: "qcow2" },
      target: { path: target, format: "vhdx" },
      size: 48 * MiB,
      workDir: work,
      signal: never,
      sha256: true,
    });
    assert.equal(result.virtualSize, 48 * MiB);
    assert.equal((await qemuImgInfo(target, "vhdx"))["virtual-size"], 48 * MiB);
    assert.equal(result.sha256, await plainSha256(source, "qcow2", 48 * MiB));
    assert.equal(await qemuCompare(source, "qcow2", target, "vhdx"), true);
  });

  it("refuses to shrink, before writing anything", async () => {
    const target = path.join(tmp.dir, "shrunk.raw");
    await assert.rejects(
      convertDisk({ source: { path: source, format: "qcow2" }, target: { path: target, format: "raw" }, size: 8 * MiB, signal: never }),
      (e: any) => e.code === "DISK_NOT_CONVERTIBLE" && /never shrunk/.test(e.message) && e.message.includes(source),
    );
    await assert.rejects(fs.stat(target), { code: "ENOENT" });
  });

  it("refuses an output path that is the source itself, leaving the source intact", async () => {
    const before = await plainSha256(source, "qcow2");
    await assert.rejects(
      convertDisk({ source: { path: source, format: "qcow2" }, target: { path: source, format: "qcow2" }, signal: never }),
      { code: "DISK_NOT_CONVERTIBLE" },
    );
    assert.equal(await plainSha256(source, "qcow2"), before);
  });

  it("convertDisk alone reports the written size and subformat", async () => {
    const target = path.join(tmp.dir, "plain.vhd");
    const result = await convertDisk({
      source: { path: source, format: "qcow2" },
      target: { path: target, format: "vhd", subformat: "fixed" },
      signal: never,
    });
    assert.deepEqual(result, { virtualSize: 41 * MiB, fileSize: 41 * MiB + 512, subformat: "fixed" });
    assert.equal(await qemuCompare(source, "qcow2", target, "vhd"), true);
  });
});
