import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { copyImageFile, DiskFormat, hashDisk, inspectDisk } from "../../engine/disk";
import { EngineError } from "../../engine/errors";
import { makeSparseDisk, tempDir } from "../helpers/disks";

const run = promisify(execFile);
const MiB = 1024 * 1024;

function coded(code: string, ...mentions: string[]) {
  return (e: unknown) => {
    assert.ok(e instanceof EngineError, `not an EngineError: ${e}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `message does not mention '${m}': ${e.message}`);
    return true;
  };
}

describe("disk: inspectDisk reports disks and refuses missing, mislabelled and chained ones", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  let raw: string;
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-inspect");
    raw = path.join(tmp.dir, "plain.raw");
    await makeSparseDisk({ path: raw, format: "raw", virtualSize: 8 * MiB, dataBytes: MiB, seed: "inspect" });
  });
  after(() => tmp.remove());

  it("reports virtual size, allocated size, file size and subformat", async () => {
    const fixed = path.join(tmp.dir, "fixed.vhd");
    await makeSparseDisk({ path: fixed, format: "vhd", options: "subformat=fixed,force_size=on", virtualSize: 8 * MiB, dataBytes: MiB, seed: "i" });
    const info = await inspectDisk(fixed, "vhd", never);
    assert.equal(info.format, "vhd");
    assert.equal(info.virtualSize, 8 * MiB);
    assert.equal(info.fileSize, 8 * MiB + 512);
    assert.equal(info.subformat, "fixed");
    assert.ok(info.actualSize >= MiB && info.actualSize < 8 * MiB, `sparse: ${info.actualSize}`);
    const rawInfo = await inspectDisk(raw, "raw", never);
    assert.deepEqual({ ...rawInfo, actualSize: 0 }, { format: "raw", virtualSize: 8 * MiB, fileSize: 8 * MiB, actualSize: 0 });
  });

  it("SOURCE_DISK_NOT_FOUND for a missing file, from every entry point", async () => {
    const missing = path.join(tmp.dir, "nope.vhdx");
    await assert.rejects(inspectDisk(missing, "vhdx", never), coded("SOURCE_DISK_NOT_FOUND", missing));
    await assert.rejects(hashDisk(missing, "vhdx", { workDir: tmp.dir, signal: never }), coded("SOURCE_DISK_NOT_FOUND", missing));
    await assert.rejects(
      copyImageFile({ source: { path: missing, format: "vhdx" }, target: { path: path.join(tmp.dir, "x.raw"), format: "raw" }, workDir: tmp.dir, signal: never }),
      coded("SOURCE_DISK_NOT_FOUND", missing),
    );
  });

  for (const format of ["vhdx", "vhd", "qcow2", "vmdk"] as DiskFormat[]) {
    it(`SOURCE_DISK_UNREADABLE naming the file and the format for a raw file named .${format}`, async () => {
      const mislabelled = path.join(tmp.dir, `really-raw.${format}`);
      await fs.copyFile(raw, mislabelled);
      await assert.rejects(inspectDisk(mislabelled, format, never), coded("SOURCE_DISK_UNREADABLE", mislabelled, `${format} disk`));
    });
  }

  it("SOURCE_DISK_UNREADABLE for a qcow2 whose header is corrupt", async () => {
    const corrupt = path.join(tmp.dir, "corrupt.qcow2");
    await makeSparseDisk({ path: corrupt, format: "qcow2", virtualSize: 8 * MiB, dataBytes: MiB, seed: "c" });
    const fh = await fs.open(corrupt, "r+");
    const bits = Buffer.alloc(4);
    bits.writeUInt32BE(99); // cluster_bits: no such cluster size
    await fh.write(bits, 0, 4, 20);
    await fh.close();
    await assert.rejects(inspectDisk(corrupt, "qcow2", never), coded("SOURCE_DISK_UNREADABLE", corrupt, "qcow2"));
  });

  it("SOURCE_DISK_UNREADABLE for a vhdx with its headers wiped", async () => {
    const wiped = path.join(tmp.dir, "wiped.vhdx");
    await makeSparseDisk({ path: wiped, format: "vhdx", virtualSize: 8 * MiB, dataBytes: MiB, seed: "w" });
    const fh = await fs.open(wiped, "r+");
    await fh.write(Buffer.alloc(192 * 1024), 0, 192 * 1024, 64 * 1024);
    await fh.close();
    await assert.rejects(inspectDisk(wiped, "vhdx", never), coded("SOURCE_DISK_UNREADABLE", wiped));
  });

  it("refuses a qcow2 with a backing file (it would read a file nobody named), everywhere", async () => {
    const child = path.join(tmp.dir, "child.qcow2");
    await run("qemu-img", ["create", "-q", "-f", "qcow2", "-b", raw, "-F", "raw", child]);
    await assert.rejects(inspectDisk(child, "qcow2", never), coded("SOURCE_DISK_UNREADABLE", child, raw, "backing file"));
    await assert.rejects(hashDisk(child, "qcow2", { workDir: tmp.dir, signal: never }), coded("SOURCE_DISK_UNREADABLE", child));
    const target = path.join(tmp.dir, "from-child.raw");
    await assert.rejects(
      copyImageFile({ source: { path: child, format: "qcow2" }, target: { path: target, format: "raw" }, workDir: tmp.dir, signal: never }),
      coded("SOURCE_DISK_UNREADABLE", child),
    );
    await assert.rejects(fs.stat(target), { code: "ENOENT" });
  });

  it("refuses a multi-file VMDK whose data lives in another file", async () => {
    const descriptor = path.join(tmp.dir, "split.vmdk");
    await makeSparseDisk({ path: descriptor, format: "vmdk", options: "subformat=monolithicFlat", virtualSize: 8 * MiB, dataBytes: MiB, seed: "f" });
    await assert.rejects(inspectDisk(descriptor, "vmdk", never), coded("SOURCE_DISK_UNREADABLE", descriptor, "split-flat.vmdk"));
  });

  it("refuses a directory", async () => {
    await assert.rejects(inspectDisk(tmp.dir, "raw", never), coded("SOURCE_DISK_UNREADABLE", tmp.dir));
  });
});
