import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { EngineError } from "../../engine/errors";
import { openStorage, Storage } from "../../engine/platforms";
import { Samba, startSamba, unixUserName } from "../helpers/samba";

const never = () => new AbortController().signal;

describe("storage (smb): an output appears under its name only when complete, and only with consent to replace", function () {
  const password = "commit-test-pw";
  let samba: Samba;
  let shareDir: string;
  let workDir: string;
  let storage: Storage;

  before(async () => {
    samba = await startSamba({
      shares: { pvs: (shareDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-share-"))) },
      users: [{ username: unixUserName(), password }],
    });
    workDir = fs.mkdtempSync(path.join(os.tmpdir(), "smb-work-"));
    storage = openStorage(samba.location("pvs"), {
      id: "pvs-writer",
      type: "UsernamePassword",
      fields: { username: unixUserName(), password },
    });
  });

  beforeEach(() => {
    for (const dir of [shareDir, workDir]) for (const n of fs.readdirSync(dir)) fs.rmSync(path.join(dir, n), { recursive: true });
  });

  after(async () => {
    await samba?.stop();
    fs.rmSync(shareDir, { recursive: true, force: true });
    fs.rmSync(workDir, { recursive: true, force: true });
  });

  it("never shows the final name before commit; when it appears the file is complete", async () => {
    const size = 48 * 1024 * 1024;
    const staged = await storage.stage("out.vhdx", { jobId: "job-7", workDir, signal: never() });
    fs.writeFileSync(staged.path, randomBytes(size));
    assert.equal(await storage.stat("out.vhdx", never()), undefined, "not listed on the share while staged");
    assert.deepEqual(fs.readdirSync(shareDir), []);

    // Watch the share while committing: every sighting of the final name must be the full file.
    const seen = new Set<string>();
    const finalSizes: number[] = [];
    const watcher = fs.watch(shareDir, (_e, file) => {
      if (!file) return;
      seen.add(file);
      const st = fs.statSync(path.join(shareDir, "out.vhdx"), { throwIfNoEntry: false });
      if (st) finalSizes.push(st.size);
    });
    try {
      await staged.commit({
        signal: never(),
        onProgress: () => {
          const st = fs.statSync(path.join(shareDir, "out.vhdx"), { throwIfNoEntry: false });
          if (st) finalSizes.push(st.size);
        },
      });
    } finally {
      watcher.close();
    }
    assert.ok(seen.has(".out.vhdx.job-7.partial"), "uploaded under the temporary name first");
    assert.ok(finalSizes.every((s) => s === size), `final name seen only complete: ${finalSizes}`);
    assert.deepEqual(fs.readdirSync(shareDir), ["out.vhdx"]);
    assert.equal(fs.statSync(path.join(shareDir, "out.vhdx")).size, size);
  });

  it("a discarded stage leaves nothing, locally or on the share", async () => {
    const staged = await storage.stage("gone.vhdx", { jobId: "job-8", workDir, signal: never() });
    fs.writeFileSync(staged.path, "partial data");
    await staged.discard();
    assert.deepEqual(fs.readdirSync(workDir), []);
    assert.deepEqual(fs.readdirSync(shareDir), []);
  });

  it("refuses to replace an existing output without overwrite (OUTPUT_EXISTS), leaving it untouched", async () => {
    fs.writeFileSync(path.join(shareDir, "keep.vhdx"), "original");
    await assert.rejects(storage.stage("keep.vhdx", { jobId: "job-9", workDir, signal: never() }), (err: EngineError) => {
      assert.equal(err.code, "OUTPUT_EXISTS");
      assert.match(err.message, /'keep\.vhdx'.*overwriteOutput: true/);
      return true;
    });

    // The name is taken between stage and commit: the rename refuses, atomically on the server.
    const staged = await storage.stage("late.vhdx", { jobId: "job-9", workDir, signal: never() });
    fs.writeFileSync(staged.path, "new content");
    fs.writeFileSync(path.join(shareDir, "late.vhdx"), "someone else's");
    await assert.rejects(staged.commit({ signal: never() }), (err: EngineError) => err.code === "OUTPUT_EXISTS");
    assert.equal(fs.readFileSync(path.join(shareDir, "late.vhdx"), "utf8"), "someone else's");
    assert.equal(fs.readFileSync(path.join(shareDir, "keep.vhdx"), "utf8"), "original");
    await staged.discard();
    assert.deepEqual(fs.readdirSync(shareDir).sort(), ["keep.vhdx", "late.vhdx"], "no .partial left");
    assert.deepEqual(fs.readdirSync(workDir), []);
  });

  it("replaces an existing output when staged with overwrite", async () => {
    fs.writeFileSync(path.join(shareDir, "again.vhdx"), "old");
    const staged = await storage.stage("again.vhdx", { jobId: "job-10", workDir, overwrite: true, signal: never() });
    fs.writeFileSync(staged.path, "new");
    await staged.commit({ signal: never() });
    assert.equal(fs.readFileSync(path.join(shareDir, "again.vhdx"), "utf8"), "new");
    assert.deepEqual(fs.readdirSync(shareDir), ["again.vhdx"]);
  });

  it("removePartials removes that job's partial files and nothing else", async () => {
    const names = [
      ".a.vhdx.job-1.partial", // job-1's
      ".b.pvp.job-1.partial", // job-1's
      ".a.vhdx.job-12.partial", // another job whose id starts the same
      ".a.vhdx.xjob-1.partial",
      "a.vhdx.job-1.partial", // not hidden: not ours
      ".job-1.partial",
      "a.vhdx",
    ];
    for (const n of names) fs.writeFileSync(path.join(shareDir, n), n);
    await storage.removePartials("job-1", never());
    assert.deepEqual(fs.readdirSync(shareDir).sort(), names.slice(2).sort());
    await storage.removePartials("job-1", never()); // nothing left to remove is fine
  });
});
