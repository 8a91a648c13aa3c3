import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineError } from "../../engine/errors";
import { openStorage, Storage } from "../../engine/platforms";
import { Samba, startSamba, unixUserName } from "../helpers/samba";

const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");
const never = () => new AbortController().signal;

describe("storage (smb): files round-trip byte-identical through a real Samba share", function () {
  const password = "round-trip pw; \"quoted\" & $ymbols";
  let samba: Samba;
  let shareDir: string;
  let workDir: string;
  let storage: Storage;

  before(async () => {
    shareDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-share-"));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-work-"));
    fs.mkdirSync(path.join(shareDir, "store", "My Disks"), { recursive: true });
    const started = Date.now();
    samba = await startSamba({ shares: { pvs: shareDir }, users: [{ username: unixUserName(), password }] });
    assert.ok(Date.now() - started < 5_000, "smbd starts in well under 5 s");
    storage = openStorage(samba.location("pvs", "store/My Disks"), {
      id: "pvs-writer",
      type: "UsernamePassword",
      fields: { username: unixUserName(), password },
    });
  });

  after(async () => {
    await samba?.stop();
    fs.rmSync(shareDir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("puts and fetches a 6 MiB file with the same sha256, reporting start and end progress", async () => {
    await storage.probe(never());
    const staged = await storage.stage("disk 1.vhdx", { jobId: "job-1", workDir, signal: never() });
    assert.equal(path.dirname(staged.path), workDir, "the staged file is local, in workDir");
    fs.writeFileSync(staged.path, randomBytes(6 * 1024 * 1024));
    const expected = sha256(staged.path);

    const up: [number, number][] = [];
    await staged.commit({ signal: never(), onProgress: (d, t) => up.push([d, t]) });
    const total = 6 * 1024 * 1024;
    assert.deepEqual(up[0], [0, total]);
    assert.deepEqual(up[up.length - 1], [total, total]);
    assert.equal(fs.existsSync(staged.path), false, "the local staged file is removed after commit");
    const onShare = path.join(shareDir, "store", "My Disks", "disk 1.vhdx");
    assert.equal(sha256(onShare), expected);
    assert.deepEqual(await storage.stat("disk 1.vhdx", never()), { size: total, isDirectory: false });

    const down: [number, number][] = [];
    const fetchDir = fs.mkdtempSync(path.join(workDir, "fetch-"));
    const copy = await storage.fetch("disk 1.vhdx", fetchDir, { signal: never(), onProgress: (d, t) => down.push([d, t]) });
    assert.equal(path.dirname(copy.path), fetchDir, "downloaded into workDir");
    assert.equal(sha256(copy.path), expected);
    assert.deepEqual(down[0], [0, total]);
    assert.deepEqual(down[down.length - 1], [total, total]);
    await copy.release();
    assert.equal(fs.existsSync(copy.path), false, "release removes the downloaded copy");
  });

  it("stat says undefined for a missing file and marks directories; fetch of a missing file is SOURCE_DISK_NOT_FOUND", async () => {
    assert.equal(await storage.stat("absent.vhdx", never()), undefined);
    fs.mkdirSync(path.join(shareDir, "store", "My Disks", "sub"));
    assert.deepEqual(await storage.stat("sub", never()), { size: 0, isDirectory: true });
    await assert.rejects(storage.fetch("absent.vhdx", workDir, { signal: never() }), (err: EngineError) => {
      assert.equal(err.code, "SOURCE_DISK_NOT_FOUND");
      assert.match(err.message, /'absent\.vhdx'.*smb:\/\/127\.0\.0\.1:\d+\/pvs\/store\/My%20Disks\//);
      return true;
    });
  });

  it("writeSmallFile writes and replaces atomically; remove deletes and tolerates a missing file", async () => {
    const file = path.join(shareDir, "store", "My Disks", "disk.pvp");
    await storage.writeSmallFile("disk.pvp", "[Version]\r\nVersion=1\r\n", "job-1", never());
    assert.equal(fs.readFileSync(file, "utf8"), "[Version]\r\nVersion=1\r\n");
    await storage.writeSmallFile("disk.pvp", "v2", "job-1", never());
    assert.equal(fs.readFileSync(file, "utf8"), "v2");
    assert.deepEqual(
      fs.readdirSync(path.dirname(file)).filter((n) => n.endsWith(".partial")),
      [],
      "no temporary file is left",
    );
    await storage.remove("disk.pvp", never());
    assert.equal(fs.existsSync(file), false);
    await storage.remove("disk.pvp", never());
  });

  it("commit stores sparse files byte-identical with their holes as holes: a trailing hole, written zeros, all zeros, empty", async () => {
    const KiB = 1024;
    const MiB = 1024 * KiB;
    const cases: { name: string; size: number; data: [number, Buffer][]; storedAtMost: number }[] = [
      // data 4 KiB off a MiB boundary, a written run of zeros (skipped too), the last byte, then a trailing hole
      { name: "trailing-hole.vhdx", size: 40 * MiB + 123, data: [[MiB + 4 * KiB, randomBytes(MiB)], [8 * MiB, Buffer.alloc(2 * MiB)], [20 * MiB + 5, Buffer.from("x")]], storedAtMost: MiB + 12 * KiB },
      { name: "zeros.vhdx", size: 16 * MiB, data: [[0, Buffer.alloc(4 * MiB)]], storedAtMost: 0 },
      { name: "empty.vhdx", size: 0, data: [], storedAtMost: 0 },
      { name: "odd-tail.bin", size: 5 * MiB + 1000, data: [[5 * MiB - 10, randomBytes(1010)]], storedAtMost: 8 * KiB },
    ];
    for (const c of cases) {
      const staged = await storage.stage(c.name, { jobId: "job-sparse", workDir, signal: never() });
      const fd = fs.openSync(staged.path, "r+");
      fs.ftruncateSync(fd, c.size);
      for (const [offset, bytes] of c.data) fs.writeSync(fd, bytes, 0, bytes.length, offset);
      fs.closeSync(fd);
      const local = fs.readFileSync(staged.path);
      await staged.commit({ signal: never() });
      const onShare = path.join(shareDir, "store", "My Disks", c.name);
      assert.ok(fs.readFileSync(onShare).equals(local), `${c.name} is byte-identical on the share`);
      const stored = fs.statSync(onShare).blocks * 512;
      assert.ok(stored <= c.storedAtMost, `${c.name}: the share stores ${stored} bytes, at most ${c.storedAtMost} expected`);
    }
  });
});
