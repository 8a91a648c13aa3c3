import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { DiskSource, rangeBytes } from "../../engine/disk";
import { EngineError } from "../../engine/errors";
import { openStorage, Storage } from "../../engine/platforms";
import { openRemoteFile } from "../../engine/platforms/smb/remote-file";
import { DEFAULT_SMB_READ } from "../../engine/platforms/smb/smb-storage";
import { makeSparseDisk, qemuCompare } from "../helpers/disks";
import { JobWorld, SMB_USER, startJobWorld } from "../helpers/job-world";
import { eventually, processesMatching } from "../helpers/processes";

const MIB = 1024 * 1024;
const never = () => new AbortController().signal;

/** Bytes smbd's processes passed to read(): the file data it served (bench/export.ts measures the same). */
function smbdRchar(root: number): number {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // exited while we looked
    }
  }
  let rchar = 0;
  const tree = [root];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  for (const pid of tree) {
    try {
      rchar += Number(/^rchar: (\d+)/m.exec(fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? 0);
    } catch {
      // exited while we looked
    }
  }
  return rchar;
}

/** Every file name below `dir`. */
function filesBelow(dir: string): string[] {
  try {
    return fs.readdirSync(dir, { recursive: true, encoding: "utf8" }).map((n) => path.basename(n));
  } catch {
    return [];
  }
}

/** The content of `file` (qemu's view, as raw) from `offset`, `length` bytes. */
function qemuBytes(file: string, driver: string, offset: number, length: number, scratch: string): Buffer {
  const raw = path.join(scratch, `oracle-${process.hrtime.bigint()}.raw`);
  execFileSync("qemu-img", ["convert", "-f", driver, "-O", "raw", file, raw]);
  try {
    const out = Buffer.alloc(length);
    const fd = fs.openSync(raw, "r");
    fs.readSync(fd, out, 0, length, offset);
    fs.closeSync(fd);
    return out;
  } finally {
    fs.rmSync(raw, { force: true });
  }
}

describe("storage (smb): raw, fixed VHD and VHDX inputs on a share are read in place by ranges, never downloaded", function () {
  this.timeout(180_000);
  let world: JobWorld;
  let inputs: string;
  let storage: Storage;

  before(async () => {
    world = await startJobWorld();
    inputs = path.join(world.shareDir, "inputs");
    fs.mkdirSync(inputs, { mode: 0o777 });
    // VHDX with 1 MiB blocks: 4 MiB of data in 256 KiB pieces over 512 MiB.
    await makeSparseDisk({ path: path.join(inputs, "sparse.vhdx"), format: "vhdx", virtualSize: 512 * MIB, dataBytes: 4 * MIB, chunk: 256 * 1024, seed: 1, options: "subformat=dynamic,block_size=1M" });
    await makeSparseDisk({ path: path.join(inputs, "disk.raw"), format: "raw", virtualSize: 64 * MIB + 4096, dataBytes: 6 * MIB, seed: 2 });
    await makeSparseDisk({ path: path.join(inputs, "fixed.vhd"), format: "vhd", virtualSize: 40 * MIB, dataBytes: 3 * MIB, seed: 3, options: "subformat=fixed" });
    // force_size: the footer's creator is "qem2", whose size qemu takes from the footer, not the geometry.
    await makeSparseDisk({ path: path.join(inputs, "sized.vhd"), format: "vhd", virtualSize: 33 * MIB + 512, dataBytes: 1 * MIB, seed: 5, options: "subformat=fixed,force_size=on" });
    await makeSparseDisk({ path: path.join(inputs, "disk.qcow2"), format: "qcow2", virtualSize: 32 * MIB, dataBytes: 2 * MIB, seed: 4 });
    await makeSparseDisk({ path: path.join(inputs, "dynamic.vhd"), format: "vhd", virtualSize: 32 * MIB, dataBytes: 2 * MIB, seed: 6, options: "subformat=dynamic" });
    storage = openStorage(world.smbLocation("inputs/"), { id: "smb", type: "UsernamePassword", fields: { ...SMB_USER } });
  });
  after(async () => world?.close());

  /** Live smb-read processes talking to this Samba. */
  const readers = () =>
    processesMatching(`-p ${world.samba.port} `).filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0")[0]!.endsWith("smb-read");
      } catch {
        return false; // exited while we looked
      }
    });

  for (const [name, format, driver] of [
    ["sparse.vhdx", "vhdx", "vhdx"],
    ["disk.raw", "raw", "raw"],
    ["fixed.vhd", "vhd", "vpc"],
    ["sized.vhd", "vhd", "vpc"],
    ["disk.qcow2", "qcow2", "qcow2"],
    ["dynamic.vhd", "vhd", "vpc"],
  ] as const) {
    const inPlace = name !== "disk.qcow2" && name !== "dynamic.vhd";
    it(`exports ${name} from the share to a local directory identical to it, ${inPlace ? "with no copy in the work directory" : "downloading it first (its layout needs qemu-img)"}`, async () => {
      const workRoot = path.join(world.engine.dataDir, "work");
      let copySeen = false;
      const watch = setInterval(() => (copySeen ||= filesBelow(workRoot).includes(name)), 20);
      let job;
      try {
        job = await world.run("export", {
          inputStorageLocation: { location: world.smbLocation("inputs/"), credentialId: "smb" },
          inputImageFilename: name,
          inputImageFormat: format,
          outputStorageLocation: { location: world.fileLocation(world.outputDir) },
          outputImageFilename: `${name}.vhdx`,
          outputImageFormat: "vhdx",
        });
      } finally {
        clearInterval(watch);
      }
      assert.equal(job.status, "complete", JSON.stringify(job.error));
      assert.deepEqual(job.steps.map((s) => s.name).slice(0, 2), ["validate", "fetch"]);
      assert.ok(await qemuCompare(path.join(inputs, name), format, path.join(world.outputDir, `${name}.vhdx`), "vhdx"), "identical content");
      assert.equal(copySeen, !inPlace, inPlace ? "no downloaded copy appeared in the work directory" : "it is downloaded");
      assert.deepEqual(readers(), [], "no reader is left running");
    });
  }

  it("reads only the ranges asked for: smbd reads about the VHDX's present blocks and metadata, and a 1 MiB read of a raw file about 1 MiB", async () => {
    const workDir = fs.mkdtempSync(path.join(world.root, "input-work-"));
    const vhdx = path.join(inputs, "sparse.vhdx");
    let before = smbdRchar(world.samba.pid);
    const source = await storage.openInput("sparse.vhdx", "vhdx", workDir, { signal: never() });
    let data: number;
    try {
      assert.equal(source.localFile, undefined, "not a local file: the copier reads it over NBD");
      assert.equal(source.virtualSize, 512 * MIB);
      const ranges = await source.dataRanges(never());
      data = rangeBytes(ranges);
      assert.equal(data, 16 * MIB, "the 16 pieces lie in 16 present 1 MiB blocks");
      for (const r of ranges) await source.read(r.start, r.length, never());
      const middle = ranges[Math.floor(ranges.length / 2)]!;
      assert.deepEqual(await source.read(middle.start, MIB, never()), qemuBytes(vhdx, "vhdx", middle.start, MIB, workDir));
      assert.deepEqual(await source.read(middle.start + middle.length, 4096, never()), Buffer.alloc(4096), "outside the data: zeros");
    } finally {
      await source.close();
    }
    let served = smbdRchar(world.samba.pid) - before;
    const fileSize = fs.statSync(vhdx).size;
    // The blocks (read twice above) plus headers, region table, metadata and BAT: a few MiB at most.
    assert.ok(served <= 2 * data! + 4 * MIB, `smbd read ${served} bytes for ${data!} of present blocks (file ${fileSize})`);
    assert.deepEqual(fs.readdirSync(workDir), [], "nothing was downloaded");

    before = smbdRchar(world.samba.pid);
    const raw = await storage.openInput("disk.raw", "raw", workDir, { signal: never() });
    try {
      const at = 20 * MIB + 4096;
      const expected = Buffer.alloc(MIB);
      const fd = fs.openSync(path.join(inputs, "disk.raw"), "r");
      fs.readSync(fd, expected, 0, MIB, at);
      fs.closeSync(fd);
      assert.deepEqual(await raw.read(at, MIB, never()), expected);
      assert.deepEqual(await raw.dataRanges(never()), [{ start: 0, length: 64 * MIB + 4096 }], "no allocation information over SMB: one range");
      served = smbdRchar(world.samba.pid) - before;
    } finally {
      await raw.close();
    }
    assert.ok(served < 3 * MIB, `smbd read ${served} bytes for a 1 MiB read of a 64 MiB file`);
    assert.deepEqual(fs.readdirSync(workDir), []);
    await eventually("closed readers to exit", 5000, () => readers().length === 0 || undefined);
  });

  it("maps the reader's failures to job codes: missing file, refused logon, server gone", async () => {
    const ctx = (port: number, password = SMB_USER.password) => ({
      uri: world.smbLocation("inputs/"),
      target: { host: "127.0.0.1", port, share: "images", dir: ["inputs"] },
      credential: { id: "smb", username: SMB_USER.username, password },
    });
    const settings = { operationTimeoutSec: 5, smbRead: DEFAULT_SMB_READ };
    const codeOf = (p: Promise<unknown>) => p.then(() => "opened", (err: EngineError) => err.code);
    assert.equal(await codeOf(openRemoteFile(ctx(world.samba.port), "absent.vhdx", settings, never())), "SOURCE_DISK_NOT_FOUND");
    assert.equal(await codeOf(openRemoteFile(ctx(world.samba.port, "wrong-Pw-5e1"), "disk.raw", settings, never())), "SHARE_ACCESS_DENIED");
    assert.equal(await codeOf(openRemoteFile(ctx(1), "disk.raw", settings, never())), "SHARE_UNREACHABLE");
    assert.equal(await codeOf(openRemoteFile(ctx(world.samba.port), "disk.raw", { ...settings, smbRead: "/nonexistent/smb-read" }, never())), "SOURCE_DISK_UNREADABLE");
    await assert.rejects(storage.openInput("absent.vhdx", "vhdx", world.root, { signal: never() }), (err: EngineError) => err.code === "SOURCE_DISK_NOT_FOUND");
  });

  it("an abort kills the reader and fails its pending reads with the reason", async () => {
    const controller = new AbortController();
    const source: DiskSource = await storage.openInput("disk.raw", "raw", world.root, { signal: controller.signal });
    const running = readers();
    assert.equal(running.length, 1, "one reader runs while the source is open");
    const reason = new Error("cancelled by the test");
    const pending = source.read(0, 64 * MIB, new AbortController().signal);
    controller.abort(reason);
    await assert.rejects(pending, (err) => err === reason);
    await eventually("the reader to exit", 5000, () => readers().length === 0 || undefined);
    await source.close();
  });
});
