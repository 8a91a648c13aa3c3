import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";

const MIB = 1024 * 1024;

describe("delete jobs remove the artifacts of earlier jobs", function () {
  this.timeout(120_000);
  let world: JobWorld;

  before(async () => {
    world = await startJobWorld();
    mkdirSync(join(world.shareDir, "store"), { mode: 0o777 });
    await makeSparseDisk({ path: join(world.inputDir, "src.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: 2 * MIB, seed: 12 });
  });
  after(async () => world?.close());

  it("removes a published vDisk and its properties file from an SMB store, and reports a name already gone", async () => {
    const published = await world.run("publish", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      outputImageFilename: "Gold.vhdx",
    });
    assert.equal(published.status, "complete", JSON.stringify(published.error));
    assert.deepEqual(readdirSync(join(world.shareDir, "store")).sort(), ["Gold.vdisk.json", "Gold.vhdx"]);

    const deleted = await world.run("delete", {
      storageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      filenames: ["Gold.vhdx", "Gold.vdisk.json", "Never.vhdx"],
    });
    assert.equal(deleted.status, "complete", JSON.stringify(deleted.error));
    assert.deepEqual(readdirSync(join(world.shareDir, "store")), []);
    assert.deepEqual(deleted.additionalInfo.artifacts, {
      location: world.smbLocation("store/"),
      removed: ["Gold.vhdx", "Gold.vdisk.json"],
      missing: ["Never.vhdx"],
    });
    assert.equal(deleted.warnings[0]?.code, "FILE_ALREADY_GONE");
  });

  it("removes an exported disk from a local directory and leaves the source alone", async () => {
    const exported = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "src.vhdx",
    });
    assert.equal(exported.status, "complete");
    const deleted = await world.run("delete", { storageLocation: { location: world.fileLocation(world.outputDir) }, filenames: ["src.vhdx"] });
    assert.equal(deleted.status, "complete", JSON.stringify(deleted.error));
    assert.deepEqual(readdirSync(world.outputDir), []);
    assert.ok(existsSync(join(world.inputDir, "src.qcow2")));
  });

  it("refuses names that are not plain file names, naming each one", async () => {
    const res = await world.submit("delete", { storageLocation: { location: world.fileLocation(world.outputDir) }, filenames: ["ok.vhdx", "../escape.vhdx"] });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.error.fields.map((f: { field: string }) => f.field), ["filenames.1"]);
    const empty = await world.submit("delete", { storageLocation: { location: world.fileLocation(world.outputDir) }, filenames: [] });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.error.fields[0].message, "must have at least 1 item");
  });
});
