import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { copyImageFile, convertDisk } from "../../engine/disk";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { eventually, qemuImgPids } from "../helpers/processes";

const MiB = 1024 * 1024;

describe("disk: aborting a conversion kills qemu-img and rejects with the abort reason", function () {
  let tmp: { dir: string; remove(): Promise<void> };
  let source: string;

  before(async () => {
    tmp = await tempDir("disk-abort");
    // 64 MiB of random data: streamOptimized compression (zlib, one core) takes seconds.
    source = path.join(tmp.dir, "busy.vhdx");
    await makeSparseDisk({ path: source, format: "vhdx", virtualSize: 64 * MiB, dataBytes: 64 * MiB, seed: "abort" });
  });
  after(() => tmp.remove());

  it("convertDisk: the qemu-img pid is gone and the promise rejects within 3 s", async () => {
    const target = path.join(tmp.dir, "aborted-1.vmdk");
    const ac = new AbortController();
    let progressed = false;
    const run = convertDisk({
      source: { path: source, format: "vhdx" },
      target: { path: target, format: "vmdk", subformat: "streamOptimized" },
      signal: ac.signal,
      onProgress: (f) => (progressed ||= f > 0),
    });
    const outcome = run.then(() => "resolved", (e: unknown) => e);
    const [pid] = await eventually("qemu-img to run", 10_000, () => {
      const pids = qemuImgPids(target);
      return pids.length > 0 && progressed ? pids : undefined;
    });
    const reason = new Error("user cancelled the job");
    const aborted = Date.now();
    ac.abort(reason);
    assert.equal(await outcome, reason);
    assert.ok(Date.now() - aborted < 3000, `took ${Date.now() - aborted} ms`);
    assert.deepEqual(qemuImgPids(target), []);
    assert.throws(() => process.kill(pid!, 0), { code: "ESRCH" });
  });

  it("copyImageFile: every qemu-img it started is gone, scratch files removed, within 3 s", async () => {
    const target = path.join(tmp.dir, "aborted-2.vmdk");
    const work = path.join(tmp.dir, "work");
    const ac = new AbortController();
    const run = copyImageFile({
      source: { path: source, format: "vhdx" },
      target: { path: target, format: "vmdk", subformat: "streamOptimized" },
      workDir: work,
      signal: ac.signal,
    });
    const outcome = run.then(() => "resolved", (e: unknown) => e);
    await eventually("qemu-img to run", 10_000, () => (qemuImgPids(target).length > 0 ? true : undefined));
    const reason = new Error("engine shutting down");
    const aborted = Date.now();
    ac.abort(reason);
    assert.equal(await outcome, reason);
    assert.ok(Date.now() - aborted < 3000, `took ${Date.now() - aborted} ms`);
    assert.deepEqual(qemuImgPids(tmp.dir), []);
    assert.deepEqual(await fs.readdir(work).catch(() => []), []);
  });
});
