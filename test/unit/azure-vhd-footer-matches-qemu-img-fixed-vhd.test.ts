// The fixed-VHD footer the Azure writer puts after the disk is the one qemu-img writes for
// `create -f vpc -o subformat=fixed,force_size=on` (what Azure got when the VHD was staged):
// given qemu's timestamp and unique id, every byte is the same, checksum included, for small and
// large sizes (Azure's smallest, 1 GiB, about the CHS maximum) and an odd number of MiB; and
// qemu-img reads a file that ends in our footer as a fixed VHD of exactly N MiB.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fixedVhdFooter, vhdChecksum } from "../../engine/platforms/azure";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function lastSector(path: string): Buffer {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(512);
    readSync(fd, b, 0, 512, statSync(path).size - 512);
    return b;
  } finally {
    closeSync(fd);
  }
}

/** The footer's fields, named as in the VHD spec. */
function fields(f: Buffer) {
  return {
    cookie: f.toString("latin1", 0, 8),
    features: f.readUInt32BE(8),
    version: f.readUInt32BE(12),
    dataOffset: f.readBigUInt64BE(16),
    creatorApp: f.toString("latin1", 28, 32),
    creatorVersion: f.readUInt32BE(32),
    creatorOs: f.toString("latin1", 36, 40),
    originalSize: Number(f.readBigUInt64BE(40)),
    currentSize: Number(f.readBigUInt64BE(48)),
    geometry: [f.readUInt16BE(56), f[58], f[59]],
    diskType: f.readUInt32BE(60),
    savedState: f[84],
    reservedIsZero: f.subarray(85).every((b) => b === 0),
  };
}

describe("azure: the fixed-VHD footer matches qemu-img's", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "imageport-vhd-footer-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const sizes: Array<[string, number]> = [
    ["1 GiB", GiB],
    ["20 MiB (Azure's smallest)", 20 * MiB],
    ["127 GiB (about the CHS maximum)", 127 * GiB],
    ["an odd number of MiB (4097 MiB)", 4097 * MiB],
  ];
  for (const [name, size] of sizes) {
    it(`${name}: byte for byte qemu-img's footer, given its time and unique id`, () => {
      const vhd = join(dir, `qemu-${size}.vhd`);
      execFileSync("qemu-img", ["create", "-q", "-f", "vpc", "-o", "subformat=fixed,force_size=on", vhd, String(size)]);
      assert.equal(statSync(vhd).size, size + 512);
      const theirs = lastSector(vhd);
      rmSync(vhd);
      const time = new Date(Date.UTC(2000, 0, 1) + theirs.readUInt32BE(24) * 1000);
      const ours = fixedVhdFooter(size, { time, uniqueId: theirs.subarray(68, 84) });
      assert.deepEqual(fields(ours), fields(theirs));
      assert.deepEqual(fields(ours), {
        cookie: "conectix",
        features: 2,
        version: 0x00010000,
        dataOffset: 0xffffffffffffffffn,
        creatorApp: "qem2",
        creatorVersion: 0x00050003,
        creatorOs: "Wi2k",
        originalSize: size,
        currentSize: size,
        geometry: [65535, 16, 255],
        diskType: 2,
        savedState: 0,
        reservedIsZero: true,
      });
      assert.equal(ours.readUInt32BE(64), vhdChecksum(theirs), "the checksum is computed as qemu does");
      assert.ok(ours.equals(theirs), "every byte is the same");
    });
  }

  it("by default: the current time (seconds since 2000), a fresh random (v4) unique id, a valid checksum", () => {
    const a = fixedVhdFooter(20 * MiB);
    const b = fixedVhdFooter(20 * MiB);
    const now = Math.floor((Date.now() - Date.UTC(2000, 0, 1)) / 1000);
    assert.ok(Math.abs(a.readUInt32BE(24) - now) <= 2, "timestamp");
    assert.ok(!a.subarray(68, 84).equals(b.subarray(68, 84)), "unique ids differ");
    assert.equal(a[68 + 6]! >> 4, 4, "a version-4 UUID");
    assert.equal(a.readUInt32BE(64), vhdChecksum(a));
  });

  it("qemu-img reads a disk's content followed by our footer as a fixed VHD of exactly N MiB holding that content", () => {
    const size = 21 * MiB;
    const data = randomBytes(4096);
    const raw = join(dir, "content.raw");
    const vhd = join(dir, "ours.vhd");
    for (const [file, footer] of [[raw, false], [vhd, true]] as const) {
      const fd = openSync(file, "w");
      ftruncateSync(fd, size);
      writeSync(fd, data, 0, data.length, 3 * MiB + 512);
      if (footer) writeSync(fd, fixedVhdFooter(size), 0, 512, size);
      closeSync(fd);
    }
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-f", "vpc", vhd], { encoding: "utf8" }));
    assert.equal(info["virtual-size"], size);
    assert.match(execFileSync("qemu-img", ["compare", "-f", "vpc", "-F", "raw", vhd, raw], { encoding: "utf8" }), /identical/i);
  });

  it("refuses a data part that is not whole sectors", () => {
    assert.throws(() => fixedVhdFooter(20 * MiB + 1), RangeError);
    assert.throws(() => fixedVhdFooter(0), RangeError);
  });
});
