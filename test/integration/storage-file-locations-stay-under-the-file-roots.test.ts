import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { configureFileRoots } from "../../engine/platforms/local/file-roots";
import { openStorage } from "../../engine/platforms";
import { makeSparseDisk } from "../helpers/disks";
import { startTestEngine, TestEngine } from "../helpers/engine-harness";

const url = (dir: string) => pathToFileURL(dir).href + "/";

describe("file:// locations stay under the engine's file roots, resolved before the check", function () {
  this.timeout(120_000);
  let base: string;
  let root: string;
  let outside: string;
  let engine: TestEngine;

  before(async () => {
    base = mkdtempSync(join(tmpdir(), "file-roots-"));
    root = join(base, "allowed");
    outside = join(base, "outside");
    for (const d of [root, join(root, "in"), join(root, "out"), outside]) mkdirSync(d);
    await makeSparseDisk({ path: join(root, "in", "disk.qcow2"), format: "qcow2", virtualSize: 8 << 20, dataBytes: 1 << 20, seed: "roots" });
    writeFileSync(join(outside, "secret.qcow2"), "not for you");
    symlinkSync(outside, join(root, "door")); // a symlinked directory inside the root
    symlinkSync(join(outside, "secret.qcow2"), join(root, "in", "link.qcow2")); // a symlinked file
    engine = await startTestEngine({ fileRoots: [root] });
  });
  after(async () => {
    await engine?.close({ removeData: true });
    configureFileRoots(undefined);
    rmSync(base, { recursive: true, force: true });
  });

  const exportBody = (inputDir: string, name: string, outputDir = join(root, "out")) => ({
    inputStorageLocation: { location: url(inputDir) },
    inputImageFilename: name,
    outputStorageLocation: { location: url(outputDir) },
    outputImageFilename: "out.vhdx",
  });
  const refusal = async (type: string, body: object) => {
    const res = await engine.api("POST", `/ips/images/$${type}`, body);
    assert.equal(res.status, 400, res.text);
    return res.json.error as { code: string; fields: { field: string; message: string }[] };
  };

  it("refuses a location outside the roots, directly, through '..' and through a symlinked directory, naming the field", async () => {
    for (const dir of [outside, `${root}/../outside`, join(root, "door")]) {
      const e = await refusal("export", exportBody(dir, "secret.qcow2"));
      assert.equal(e.code, "VALIDATION_FAILED");
      assert.equal(e.fields[0]!.field, "inputStorageLocation.location", dir);
      assert.match(e.fields[0]!.message, /outside the directories this engine may use/);
    }
    const out = await refusal("export", exportBody(join(root, "in"), "disk.qcow2", outside));
    assert.equal(out.fields[0]!.field, "outputStorageLocation.location");
    assert.ok(!existsSync(join(outside, "out.vhdx")));
  });

  it("refuses an input file that is a symlink out of the roots", async () => {
    const e = await refusal("export", exportBody(join(root, "in"), "link.qcow2"));
    assert.equal(e.fields[0]!.field, "inputImageFilename");
  });

  it("refuses to delete files outside the roots and deletes nothing", async () => {
    const e = await refusal("delete", { storageLocation: { location: url(outside) }, filenames: ["secret.qcow2"] });
    assert.equal(e.fields[0]!.field, "storageLocation.location");
    assert.equal(readFileSync(join(outside, "secret.qcow2"), "utf8"), "not for you");
  });

  it("confines a job at run time too (a connector checks, whatever was accepted): LOCATION_NOT_ALLOWED, nothing read", async () => {
    const storage = openStorage(url(join(root, "door")), undefined);
    await assert.rejects(storage.fetch("secret.qcow2", base, { signal: new AbortController().signal }), (err: { code?: string }) => err.code === "LOCATION_NOT_ALLOWED");
    await assert.rejects(storage.remove("secret.qcow2", new AbortController().signal), (err: { code?: string }) => err.code === "LOCATION_NOT_ALLOWED");
    assert.ok(existsSync(join(outside, "secret.qcow2")));
  });

  it("writes outputs readable by owner and group only (0640), whatever the umask", async () => {
    const old = process.umask(0o022);
    try {
      const res = await engine.api("POST", "/ips/images/$export", exportBody(join(root, "in"), "disk.qcow2"));
      assert.equal(res.status, 202, res.text);
      let job: any;
      for (let i = 0; i < 300; i++) {
        job = (await engine.api("GET", `/ips/jobs/${res.json.id}`)).json;
        if (job.status !== "inProgress" && job.status !== "pending") break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(job.status, "complete", JSON.stringify(job.error));
      assert.equal(statSync(join(root, "out", "out.vhdx")).mode & 0o777, 0o640);
    } finally {
      process.umask(old);
    }
  });
});
