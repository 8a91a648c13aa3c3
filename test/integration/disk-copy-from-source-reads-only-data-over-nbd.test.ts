// The copier from any DiskSource: a sparse qcow2 opened as an image source, wrapped in a source
// that counts and checks every read, is copied over NBD by qemu-img into vhdx, fixed vhd and
// qcow2. The outputs read the same as the source (qemu-img compare), the source is read only
// where it has data (never in a hole, every data byte about once), the block digest is the one
// BlockDigest gives for the raw content, a failing source fails the copy with its own error
// code and leaves nothing behind, an abort stops qemu-img and removes the socket, and a 64 GiB
// disk with little data costs reads in proportion to its data, not its size.

import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createReadStream, promises as fs } from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { BlockDigest, copyFromSource, DataRange, DiskSource, openImageSource } from "../../engine/disk";
import { EngineError, jobFailure } from "../../engine/errors";
import { makeSparseDisk, qemuCompare, tempDir, TestDiskFormat } from "../helpers/disks";
import { eventually, qemuImgPids } from "../helpers/processes";

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** A DiskSource around another that records every read, refuses reads of holes, and can fail or dawdle. */
class CountingSource implements DiskSource {
  readonly reads: { offset: number; length: number }[] = [];
  readonly holeReads: { offset: number; length: number }[] = [];
  readonly name: string;
  readonly virtualSize: number;
  private ranges: DataRange[] = [];
  private served = 0;

  constructor(
    private readonly inner: DiskSource,
    private readonly behaviour: { failAfterBytes?: number; delayMs?: number } = {},
  ) {
    this.name = `counting(${inner.name})`;
    this.virtualSize = inner.virtualSize;
  }

  get bytesRead(): number {
    return this.served;
  }

  get allocated(): number {
    return this.ranges.reduce((n, r) => n + r.length, 0);
  }

  async dataRanges(signal: AbortSignal): Promise<DataRange[]> {
    this.ranges = await this.inner.dataRanges(signal);
    return this.ranges.map((r) => ({ ...r }));
  }

  async read(offset: number, length: number, signal: AbortSignal): Promise<Buffer> {
    this.reads.push({ offset, length });
    // Every byte of a read must lie in a data range.
    let at = offset;
    for (const r of this.ranges) {
      if (r.start + r.length <= at) continue;
      if (r.start > at) break;
      at = Math.min(offset + length, r.start + r.length);
      if (at === offset + length) break;
    }
    if (at < offset + length) this.holeReads.push({ offset, length });
    if (this.behaviour.delayMs) await new Promise((resolve) => setTimeout(resolve, this.behaviour.delayMs));
    if (this.behaviour.failAfterBytes !== undefined && this.served >= this.behaviour.failAfterBytes) {
      throw jobFailure(
        "PLATFORM_UNREACHABLE",
        `The datastore holding ${this.name} stopped answering while bytes ${offset} to ${offset + length} were read. Check the host and run the job again.`,
      );
    }
    const data = await this.inner.read(offset, length, signal);
    this.served += length;
    return data;
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

/** BlockDigest of a disk's content, the plain way: expand to raw with qemu-img and feed every byte. */
async function rawBlockDigest(file: string, format: TestDiskFormat, size: number, scratch: string): Promise<string> {
  const raw = path.join(scratch, `oracle-${path.basename(file)}.raw`);
  await run("qemu-img", ["convert", "-f", format === "vhd" ? "vpc" : format, "-O", "raw", file, raw]);
  try {
    const digest = new BlockDigest(size);
    let seen = 0;
    for await (const chunk of createReadStream(raw, { highWaterMark: 4 * MiB })) {
      digest.data(chunk as Buffer);
      seen += (chunk as Buffer).length;
    }
    digest.zeros(size - seen);
    return digest.digest();
  } finally {
    await fs.rm(raw, { force: true });
  }
}

/** The NBD socket directories the copier left in a work directory. */
async function socketDirs(workDir: string): Promise<string[]> {
  return (await fs.readdir(workDir).catch(() => [] as string[])).filter((n) => n.startsWith("nbd-"));
}

describe("disk: copyFromSource copies any DiskSource over NBD, reading only its data", function () {
  this.timeout(300_000);
  let tmp: { dir: string; remove(): Promise<void> };
  let qcow2: string;
  let oracle: string;
  const never = new AbortController().signal;

  before(async () => {
    tmp = await tempDir("disk-copy-nbd");
    // 1 GiB of guest space, 4 MiB of data in 64 pieces of 64 KiB, 16 MiB apart.
    qcow2 = path.join(tmp.dir, "source.qcow2");
    await makeSparseDisk({ path: qcow2, format: "qcow2", virtualSize: GiB, dataBytes: 4 * MiB, seed: "copy-from-source" });
    oracle = await rawBlockDigest(qcow2, "qcow2", GiB, tmp.dir);
  });
  after(() => tmp.remove());

  const TARGETS: { name: string; format: TestDiskFormat; subformat?: string }[] = [
    { name: "vhdx", format: "vhdx" },
    { name: "vhd fixed", format: "vhd", subformat: "fixed" },
    { name: "qcow2", format: "qcow2" },
  ];

  for (const t of TARGETS) {
    it(`to ${t.name}: identical to the source, reads only data ranges (<= 1.05x allocated), block digest of the raw content`, async () => {
      const work = path.join(tmp.dir, `work-${t.format}-${t.subformat ?? "default"}`);
      const source = new CountingSource(await openImageSource(qcow2, "qcow2", work, never));
      const target = path.join(tmp.dir, `out-${t.format}-${t.subformat ?? "default"}.${t.format}`);
      let lastProgress = 0;
      const started = Date.now();
      try {
        const copied = await copyFromSource(source, {
          target: { path: target, format: t.format, ...(t.subformat ? { subformat: t.subformat } : {}) },
          workDir: work,
          signal: never,
          onProgress: (f) => {
            assert.ok(f >= lastProgress, "progress only moves forward");
            lastProgress = f;
          },
        });
        const ms = Date.now() - started;
        assert.equal(await qemuCompare(qcow2, "qcow2", target, t.format), true, "qemu-img compare: same content");
        assert.deepEqual(source.holeReads, [], "no read touched a hole");
        const read = source.reads.reduce((n, r) => n + r.length, 0);
        const ratio = read / source.allocated;
        console.log(
          `      ${t.name}: ${source.reads.length} reads, ${read} bytes of ${source.allocated} allocated (ratio ${ratio.toFixed(4)}), ${ms} ms`,
        );
        assert.ok(source.allocated >= 4 * MiB && source.allocated <= 8 * MiB, `allocated ${source.allocated}`);
        assert.ok(read >= source.allocated, "every data byte was read");
        assert.ok(ratio <= 1.05, `read ${read} bytes for ${source.allocated} allocated`);
        assert.equal(copied.dataBytes, read);
        assert.equal(copied.virtualSize, GiB);
        assert.equal(copied.blockDigest, oracle, "the block digest is BlockDigest of the raw content");
        assert.equal(lastProgress, 1);
        if (t.subformat === "fixed") assert.equal(copied.fileSize, GiB + 512);
        assert.deepEqual(await socketDirs(work), [], "the socket and its directory are gone");
      } finally {
        await source.close();
      }
    });
  }

  it("dense, unaligned data from a vhdx (qemu-img's parallel reads cross digest blocks, out of order): same content and digest", async () => {
    // 256 MiB holding 96 MiB in pieces of 3 MiB + 20 KiB: ranges start and end inside 1 MiB blocks.
    const vhdx = path.join(tmp.dir, "dense.vhdx");
    await makeSparseDisk({ path: vhdx, format: "vhdx", virtualSize: 256 * MiB, dataBytes: 96 * MiB, chunk: 3 * MiB + 20 * KiB, seed: "dense" });
    const work = path.join(tmp.dir, "work-dense");
    const source = new CountingSource(await openImageSource(vhdx, "vhdx", work, never));
    const target = path.join(tmp.dir, "dense-out.qcow2");
    const started = Date.now();
    try {
      const copied = await copyFromSource(source, { target: { path: target, format: "qcow2" }, workDir: work, signal: never });
      const read = source.reads.reduce((n, r) => n + r.length, 0);
      console.log(
        `      dense vhdx -> qcow2: ${source.reads.length} reads, ${read} bytes of ${source.allocated} allocated ` +
          `(ratio ${(read / source.allocated).toFixed(4)}), ${Date.now() - started} ms`,
      );
      assert.equal(await qemuCompare(vhdx, "vhdx", target, "qcow2"), true);
      assert.deepEqual(source.holeReads, []);
      assert.ok(read >= source.allocated && read <= 1.05 * source.allocated, `read ${read} of ${source.allocated}`);
      assert.equal(copied.blockDigest, await rawBlockDigest(vhdx, "vhdx", 256 * MiB, tmp.dir));
    } finally {
      await source.close();
    }
  });

  it("a source whose read fails with a coded error: the copy rejects with that code and leaves no target", async () => {
    const work = path.join(tmp.dir, "work-failing");
    const source = new CountingSource(await openImageSource(qcow2, "qcow2", work, never), { failAfterBytes: 1 * MiB });
    const target = path.join(tmp.dir, "out-failing.vhdx");
    try {
      await assert.rejects(copyFromSource(source, { target: { path: target, format: "vhdx" }, workDir: work, signal: never }), (error: unknown) => {
        assert.ok(error instanceof EngineError, String(error));
        assert.equal(error.code, "PLATFORM_UNREACHABLE", error.message);
        assert.match(error.message, /stopped answering/);
        return true;
      });
      await assert.rejects(fs.stat(target), { code: "ENOENT" }, "no target is left");
      assert.deepEqual(await socketDirs(work), []);
      assert.deepEqual(qemuImgPids(work), []);
    } finally {
      await source.close();
    }
  });

  it("abort mid-copy: rejects with the reason within 3 s, qemu-img is gone, the socket is removed", async () => {
    const work = path.join(tmp.dir, "work-abort");
    const source = new CountingSource(await openImageSource(qcow2, "qcow2", work, never), { delayMs: 300 });
    const target = path.join(tmp.dir, "out-aborted.qcow2");
    const ac = new AbortController();
    try {
      const outcome = copyFromSource(source, { target: { path: target, format: "qcow2" }, workDir: work, signal: ac.signal }).then(
        () => "resolved",
        (e: unknown) => e,
      );
      const [pid] = await eventually("qemu-img to run", 20_000, () => {
        const pids = qemuImgPids(work);
        return pids.length > 0 && source.reads.length > 0 ? pids : undefined;
      });
      const [socketDir] = await socketDirs(work);
      assert.ok(socketDir, "the export's socket directory exists while copying");
      const reason = new Error("user cancelled the job");
      const aborted = Date.now();
      ac.abort(reason);
      assert.equal(await outcome, reason);
      assert.ok(Date.now() - aborted < 3000, `took ${Date.now() - aborted} ms`);
      assert.deepEqual(qemuImgPids(work), []);
      assert.throws(() => process.kill(pid!, 0), { code: "ESRCH" });
      assert.deepEqual(await socketDirs(work), [], "the socket and its directory are removed");
      await assert.rejects(fs.stat(target), { code: "ENOENT" });
    } finally {
      await source.close();
    }
  });

  it("a 64 GiB disk with 2 MiB of data: bytes read follow the data, not the virtual size", async () => {
    const big = path.join(tmp.dir, "big.qcow2");
    await makeSparseDisk({ path: big, format: "qcow2", virtualSize: 64 * GiB, dataBytes: 2 * MiB, seed: "big" });
    const work = path.join(tmp.dir, "work-big");
    for (const format of ["qcow2", "vhdx"] as const) {
      const source = new CountingSource(await openImageSource(big, "qcow2", work, never));
      const target = path.join(tmp.dir, `big-out.${format}`);
      const started = Date.now();
      try {
        const copied = await copyFromSource(source, { target: { path: target, format }, workDir: work, signal: never });
        const ms = Date.now() - started;
        const read = source.reads.reduce((n, r) => n + r.length, 0);
        console.log(
          `      64 GiB -> ${format}: ${source.reads.length} reads, ${read} bytes of ${source.allocated} allocated ` +
            `(ratio ${(read / source.allocated).toFixed(4)}), ${ms} ms`,
        );
        assert.equal(copied.virtualSize, 64 * GiB);
        assert.deepEqual(source.holeReads, []);
        assert.ok(read >= source.allocated && read <= 1.05 * source.allocated, `read ${read} of ${source.allocated}`);
        assert.ok(read <= 8 * MiB, "megabytes read for a 64 GiB disk");
        assert.equal(await qemuCompare(big, "qcow2", target, format), true);
      } finally {
        await source.close();
        await fs.rm(target, { force: true });
      }
    }
  });
});
