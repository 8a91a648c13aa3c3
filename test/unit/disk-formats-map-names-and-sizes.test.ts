import assert from "node:assert/strict";
import { EngineError } from "../../engine/errors";
import { DISK_FORMATS, formatFromFilename, qemuDriver, resolveSubformat, targetVirtualSize } from "../../engine/disk";

const MiB = 1024 * 1024;

describe("disk: format names and target sizes", () => {
  it("knows the five formats and maps file extensions case-insensitively", () => {
    assert.deepEqual([...DISK_FORMATS], ["raw", "qcow2", "vmdk", "vhd", "vhdx"]);
    assert.equal(formatFromFilename("a.raw"), "raw");
    assert.equal(formatFromFilename("disk.IMG"), "raw");
    assert.equal(formatFromFilename("/x/y/disk.QCow2"), "qcow2");
    assert.equal(formatFromFilename("w2k22.vmdk"), "vmdk");
    assert.equal(formatFromFilename("base.Vhd"), "vhd");
    assert.equal(formatFromFilename("base.VHDX"), "vhdx");
    assert.equal(formatFromFilename("notes.txt"), undefined);
    assert.equal(formatFromFilename("vhdx"), undefined);
    assert.equal(formatFromFilename("disk.vhd.bak"), undefined);
  });

  it("uses qemu's driver name vpc for VHD and the format name otherwise", () => {
    assert.equal(qemuDriver("vhd"), "vpc");
    for (const f of ["raw", "qcow2", "vmdk", "vhdx"] as const) assert.equal(qemuDriver(f), f);
  });

  it("rounds a fixed VHD up to a whole MiB and every other target to whole sectors", () => {
    assert.equal(targetVirtualSize(10 * MiB, "vhd", "fixed"), 10 * MiB);
    assert.equal(targetVirtualSize(10 * MiB + 512, "vhd", "fixed"), 11 * MiB);
    assert.equal(targetVirtualSize(1_000_000, "vhd", "fixed"), MiB);
    assert.equal(targetVirtualSize(10 * MiB + 512, "vhd", "dynamic"), 10 * MiB + 512);
    assert.equal(targetVirtualSize(10 * MiB + 512, "vhd"), 10 * MiB + 512);
    assert.equal(targetVirtualSize(1_000_000, "qcow2"), 1_000_448);
    assert.equal(targetVirtualSize(1_000_448, "vhdx", "fixed"), 1_000_448);
  });

  it("defaults subformats and refuses unknown ones with DISK_NOT_CONVERTIBLE", () => {
    assert.equal(resolveSubformat("vhd"), "dynamic");
    assert.equal(resolveSubformat("vhdx"), "dynamic");
    assert.equal(resolveSubformat("vmdk"), "monolithicSparse");
    assert.equal(resolveSubformat("vmdk", "streamOptimized"), "streamOptimized");
    assert.equal(resolveSubformat("qcow2"), undefined);
    assert.throws(() => resolveSubformat("vhd", "differencing"), (e: unknown) => e instanceof EngineError && e.code === "DISK_NOT_CONVERTIBLE" && /fixed/.test(e.message));
    assert.throws(() => resolveSubformat("raw", "fixed"), (e: unknown) => e instanceof EngineError && e.code === "DISK_NOT_CONVERTIBLE");
    assert.throws(() => targetVirtualSize(MiB, "vmdk", "monolithicFlat"), EngineError);
  });
});
