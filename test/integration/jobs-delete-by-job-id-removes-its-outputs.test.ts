import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";

const MIB = 1024 * 1024;

describe("$delete {jobId} removes the outputs of that job, without restating where they are", function () {
  this.timeout(120_000);
  let world: JobWorld;
  const fields = (res: { json: any }) => (res.json.error.fields as { field: string; message: string }[]).map((f) => f.field).sort();

  before(async () => {
    world = await startJobWorld();
    mkdirSync(join(world.shareDir, "store"), { mode: 0o777 });
    await makeSparseDisk({ path: join(world.inputDir, "src.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: 2 * MIB, seed: 21 });
    writeFileSync(join(world.inputDir, "bogus.qcow2"), Buffer.alloc(4096, 7)); // exists, but is no qcow2
  });
  after(async () => world?.close());

  const exportTo = (outputImageFilename: string, input = "src.qcow2") => ({
    inputStorageLocation: { location: world.fileLocation(world.inputDir) },
    inputImageFilename: input,
    outputStorageLocation: { location: world.fileLocation(world.outputDir) },
    outputImageFilename,
  });

  it("removes an exported disk from a local directory, storing the files it resolved to", async () => {
    const exported = await world.run("export", exportTo("by-id.vhdx"));
    assert.equal(exported.status, "complete", JSON.stringify(exported.error));
    assert.ok(existsSync(join(world.outputDir, "by-id.vhdx")));

    const dry = await world.submit("delete", { jobId: exported.id }, "?dryRun=true");
    assert.equal(dry.status, 200);
    assert.deepEqual(dry.json.parameters, {
      jobId: exported.id,
      storageLocation: { location: world.fileLocation(world.outputDir) },
      filenames: ["by-id.vhdx"],
      resourceLocationId: "local",
    });

    const deleted = await world.run("delete", { jobId: exported.id });
    assert.equal(deleted.status, "complete", JSON.stringify(deleted.error));
    assert.equal(existsSync(join(world.outputDir, "by-id.vhdx")), false);
    assert.deepEqual(deleted.parameters.filenames, ["by-id.vhdx"]);
    assert.deepEqual(deleted.additionalInfo.artifacts, { location: world.fileLocation(world.outputDir), removed: ["by-id.vhdx"], missing: [] });
    assert.ok(existsSync(join(world.inputDir, "src.qcow2")), "the source is left alone");
  });

  it("removes a published vDisk and its properties file from a Samba share, with the share's credential", async () => {
    const published = await world.run("publish", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      outputImageFilename: "Gold.vhdx",
    });
    assert.equal(published.status, "complete", JSON.stringify(published.error));
    assert.deepEqual(readdirSync(join(world.shareDir, "store")).sort(), ["Gold.vdisk.json", "Gold.vhdx"]);

    const deleted = await world.run("delete", { jobId: published.id });
    assert.equal(deleted.status, "complete", JSON.stringify(deleted.error));
    assert.deepEqual(readdirSync(join(world.shareDir, "store")), []);
    assert.deepEqual(deleted.parameters.storageLocation, { location: world.smbLocation("store/"), credentialId: "smb" });
    assert.deepEqual(deleted.additionalInfo.artifacts, {
      location: world.smbLocation("store/"),
      removed: ["Gold.vhdx", "Gold.vdisk.json"],
      missing: [],
    });
  });

  it("refuses an unknown job id, a delete job's id, and a job that did not complete, naming jobId", async () => {
    const unknown = await world.submit("delete", { jobId: "00000000-0000-4000-8000-000000000000" });
    assert.equal(unknown.status, 400);
    assert.deepEqual(fields(unknown), ["jobId"]);
    assert.match(unknown.json.error.fields[0].message, /no job/);

    const exported = await world.run("export", exportTo("twice.vhdx"));
    const deleted = await world.run("delete", { jobId: exported.id });
    assert.equal(deleted.status, "complete");
    const ofDelete = await world.submit("delete", { jobId: deleted.id });
    assert.equal(ofDelete.status, 400);
    assert.deepEqual(fields(ofDelete), ["jobId"]);
    assert.match(ofDelete.json.error.fields[0].message, /delete job.*export, prepare, publish, prepareAndPublish/);

    const failed = await world.run("export", exportTo("never.vhdx", "bogus.qcow2"));
    assert.equal(failed.status, "failed");
    const ofFailed = await world.submit("delete", { jobId: failed.id });
    assert.equal(ofFailed.status, 400);
    assert.deepEqual(fields(ofFailed), ["jobId"]);
    assert.match(ofFailed.json.error.fields[0].message, /which is failed; only a complete job/);

    // A location without a connector keeps its job waiting: notStarted.
    const location = await world.engine.api("POST", "/ips/resourceLocations", { id: "nowhere", name: "no connector" });
    assert.equal(location.status, 201);
    const waiting = await world.submit("export", { ...exportTo("later.vhdx"), resourceLocationId: "nowhere" });
    assert.equal(waiting.status, 202);
    const ofWaiting = await world.submit("delete", { jobId: waiting.json.id });
    assert.equal(ofWaiting.status, 400);
    assert.match(ofWaiting.json.error.fields[0].message, /which is notStarted/);
  });

  it("takes exactly one of the two forms, naming the fields", async () => {
    const both = await world.submit("delete", {
      jobId: "00000000-0000-4000-8000-000000000000",
      storageLocation: { location: world.fileLocation(world.outputDir) },
      filenames: ["x.vhdx"],
    });
    assert.equal(both.status, 400);
    assert.deepEqual(fields(both), ["filenames", "jobId", "storageLocation"]);

    const neither = await world.submit("delete", {});
    assert.equal(neither.status, 400);
    assert.deepEqual(fields(neither), ["filenames", "storageLocation"]);
    assert.match(neither.json.error.fields[0].message, /unless jobId is given/);

    const half = await world.submit("delete", { storageLocation: { location: world.fileLocation(world.outputDir) } });
    assert.equal(half.status, 400);
    assert.deepEqual(fields(half), ["filenames"]);
  });
});
