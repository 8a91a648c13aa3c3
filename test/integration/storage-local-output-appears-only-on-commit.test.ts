import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineError } from "../../engine/errors";
import { openStorage, Storage } from "../../engine/platforms";
import { REPO_ROOT } from "../helpers/paths";

const never = () => new AbortController().signal;
const sha256 = (file: string) => createHash("sha256").update(fs.readFileSync(file)).digest("hex");

describe("storage (local): file:// outputs appear under their name only on commit", () => {
  let dir: string;
  let workDir: string;
  let storage: Storage;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "local-store-"));
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-work-"));
    storage = openStorage(`file://${dir}`, undefined);
  });

  beforeEach(() => {
    for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n), { recursive: true });
  });

  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("stages as .<name>.<jobId>.partial next to the output and renames it on commit", async () => {
    const staged = await storage.stage("disk.vhdx", { jobId: "job-1", workDir, signal: never() });
    assert.equal(staged.path, path.join(dir, ".disk.vhdx.job-1.partial"));
    fs.writeFileSync(staged.path, randomBytes(3 * 1024 * 1024));
    const expected = sha256(staged.path);
    assert.equal(await storage.stat("disk.vhdx", never()), undefined, "not there before commit");
    const progress: [number, number][] = [];
    await staged.commit({ signal: never(), onProgress: (d, t) => progress.push([d, t]) });
    assert.deepEqual(fs.readdirSync(dir), ["disk.vhdx"]);
    assert.equal(sha256(path.join(dir, "disk.vhdx")), expected);
    assert.deepEqual(progress, [[0, 3 * 1024 * 1024], [3 * 1024 * 1024, 3 * 1024 * 1024]]);
  });

  it("fetch returns the file itself; release leaves it in place", async () => {
    fs.writeFileSync(path.join(dir, "src.qcow2"), "source bytes");
    const copy = await storage.fetch("src.qcow2", workDir, { signal: never() });
    assert.equal(copy.path, path.join(dir, "src.qcow2"));
    await copy.release();
    assert.equal(fs.readFileSync(path.join(dir, "src.qcow2"), "utf8"), "source bytes");
    assert.deepEqual(fs.readdirSync(workDir), [], "nothing copied into workDir");
  });

  it("a discarded stage leaves nothing", async () => {
    const staged = await storage.stage("gone.vhdx", { jobId: "job-2", workDir, signal: never() });
    fs.writeFileSync(staged.path, "partial data");
    await staged.discard();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("refuses to replace an existing output without overwrite, at stage and (atomically) at commit", async () => {
    fs.writeFileSync(path.join(dir, "keep.vhdx"), "original");
    await assert.rejects(storage.stage("keep.vhdx", { jobId: "job-3", workDir, signal: never() }), (err: EngineError) => {
      assert.equal(err.code, "OUTPUT_EXISTS");
      assert.match(err.message, /'keep\.vhdx'.*overwriteOutput: true/);
      return true;
    });
    const staged = await storage.stage("late.vhdx", { jobId: "job-3", workDir, signal: never() });
    fs.writeFileSync(staged.path, "mine");
    fs.writeFileSync(path.join(dir, "late.vhdx"), "someone else's");
    await assert.rejects(staged.commit({ signal: never() }), (err: EngineError) => err.code === "OUTPUT_EXISTS");
    assert.equal(fs.readFileSync(path.join(dir, "late.vhdx"), "utf8"), "someone else's");
    assert.equal(fs.readFileSync(path.join(dir, "keep.vhdx"), "utf8"), "original");
    await staged.discard();
    assert.deepEqual(fs.readdirSync(dir).sort(), ["keep.vhdx", "late.vhdx"]);
  });

  it("replaces an existing output when staged with overwrite", async () => {
    fs.writeFileSync(path.join(dir, "again.vhdx"), "old");
    const staged = await storage.stage("again.vhdx", { jobId: "job-4", workDir, overwrite: true, signal: never() });
    fs.writeFileSync(staged.path, "new");
    await staged.commit({ signal: never() });
    assert.equal(fs.readFileSync(path.join(dir, "again.vhdx"), "utf8"), "new");
    assert.deepEqual(fs.readdirSync(dir), ["again.vhdx"]);
  });

  it("writeSmallFile goes through a temporary name and replaces; remove tolerates a missing file", async () => {
    fs.writeFileSync(path.join(dir, "disk.pvp"), "old");
    const seen = new Set<string>();
    const watcher = fs.watch(dir, (_e, f) => f && seen.add(f));
    try {
      await storage.writeSmallFile("disk.pvp", "[Version]\r\n", "job-5", never());
      await new Promise((r) => setTimeout(r, 50)); // let the watcher deliver
    } finally {
      watcher.close();
    }
    assert.ok(seen.has(".disk.pvp.job-5.partial"), `written under a temporary name: ${[...seen]}`);
    assert.equal(fs.readFileSync(path.join(dir, "disk.pvp"), "utf8"), "[Version]\r\n");
    assert.deepEqual(fs.readdirSync(dir), ["disk.pvp"]);
    await storage.remove("disk.pvp", never());
    await storage.remove("disk.pvp", never());
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("removePartials removes that job's partial files and nothing else", async () => {
    const names = [".a.vhdx.job-1.partial", ".b.pvp.job-1.partial", ".a.vhdx.job-12.partial", ".a.vhdx.xjob-1.partial", "a.vhdx.job-1.partial", ".job-1.partial", "a.vhdx"];
    for (const n of names) fs.writeFileSync(path.join(dir, n), n);
    await storage.removePartials("job-1", never());
    assert.deepEqual(fs.readdirSync(dir).sort(), names.slice(2).sort());
  });

  it("missing directory -> SHARE_PATH_NOT_FOUND; missing file -> SOURCE_DISK_NOT_FOUND", async () => {
    const missing = openStorage(`file://${dir}/no/such/dir/`, undefined);
    for (const attempt of [
      () => missing.probe(never()),
      () => missing.stage("a.vhdx", { jobId: "j", workDir, signal: never() }),
      () => missing.fetch("a.vhdx", workDir, { signal: never() }),
      () => missing.removePartials("j", never()),
    ]) {
      await assert.rejects(attempt(), (err: EngineError) => {
        assert.equal(err.code, "SHARE_PATH_NOT_FOUND");
        assert.match(err.message, /no\/such\/dir\/ .*does not exist/);
        return true;
      });
    }
    await assert.rejects(storage.fetch("absent.vhdx", workDir, { signal: never() }), (err: EngineError) => err.code === "SOURCE_DISK_NOT_FOUND");
  });

  it("an aborted signal rejects with its reason", async () => {
    const reason = new Error("cancelled");
    await assert.rejects(storage.probe(AbortSignal.abort(reason)), (e) => e === reason);
    const staged = await storage.stage("c.vhdx", { jobId: "job-6", workDir, signal: never() });
    await assert.rejects(staged.commit({ signal: AbortSignal.abort(reason) }), (e) => e === reason);
    await staged.discard();
    assert.deepEqual(fs.readdirSync(dir), []);
  });

  it("a directory the engine may not write -> SHARE_ACCESS_DENIED", function () {
    // Permissions do not bind root: as root, run the storage call in a user namespace of its own,
    // where root keeps its uid (so it still reads its checkout, even in a 0700 directory) but
    // loses the capability to override permissions on files of the outer namespace.
    const locked = fs.mkdtempSync(path.join(os.tmpdir(), "local-locked-"));
    try {
      fs.chmodSync(locked, 0o555);
      const script =
        `require(${JSON.stringify(path.join(REPO_ROOT, "dist/engine/platforms"))})` +
        `.openStorage(${JSON.stringify(`file://${locked}/`)}, undefined)` +
        `.stage("a.vhdx", { jobId: "j", workDir: "/tmp", signal: new AbortController().signal })` +
        `.then(() => console.log("STAGED"), (e) => console.log(e.code + " " + e.message))`;
      const asOther = process.getuid!() === 0 ? ["unshare", "--user", "--"] : [];
      const argv = [...asOther, process.execPath, "-e", script];
      const result = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 20_000 });
      assert.match(result.stdout, /^SHARE_ACCESS_DENIED .*may not access '\.a\.vhdx\.j\.partial'/, result.stdout + result.stderr);
    } finally {
      fs.rmSync(locked, { recursive: true, force: true });
    }
  });
});
