import assert from "node:assert/strict";
import { mkdirSync, rmSync, statSync } from "node:fs";
import * as net from "node:net";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";

const MIB = 1024 * 1024;

function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

describe("$inspect reports whether a job's outputs still exist, and their sizes", function () {
  this.timeout(120_000);
  let world: JobWorld;

  before(async () => {
    world = await startJobWorld();
    mkdirSync(join(world.shareDir, "store"), { mode: 0o777 });
    await makeSparseDisk({ path: join(world.inputDir, "src.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: 2 * MIB, seed: 31 });
  });
  after(async () => world?.close());

  it("finds an exported disk with its size, then reports it missing once removed out of band (the job still completes)", async () => {
    const exported = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "seen.vhdx",
    });
    assert.equal(exported.status, "complete", JSON.stringify(exported.error));
    const size = statSync(join(world.outputDir, "seen.vhdx")).size;
    assert.equal(exported.additionalInfo.artifacts.sizeBytes, size);

    const present = await world.run("inspect", { jobId: exported.id });
    assert.equal(present.status, "complete", JSON.stringify(present.error));
    assert.deepEqual(present.steps.map((s) => [s.name, s.status]), [["validate", "complete"], ["stat", "complete"]]);
    assert.deepEqual(present.additionalInfo.artifacts, {
      location: world.fileLocation(world.outputDir),
      files: [{ name: "seen.vhdx", exists: true, sizeBytes: size }],
    });

    rmSync(join(world.outputDir, "seen.vhdx"));
    const gone = await world.run("inspect", { jobId: exported.id });
    assert.equal(gone.status, "complete", JSON.stringify(gone.error));
    assert.equal(gone.error, undefined);
    assert.deepEqual(gone.additionalInfo.artifacts, {
      location: world.fileLocation(world.outputDir),
      files: [{ name: "seen.vhdx", exists: false }],
    });
  });

  it("inspects a published vDisk and its properties file on a Samba share, each on its own", async () => {
    const published = await world.run("publish", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "src.qcow2",
      outputStorageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      outputImageFilename: "Gold.vhdx",
    });
    assert.equal(published.status, "complete", JSON.stringify(published.error));
    const vdiskSize = statSync(join(world.shareDir, "store", "Gold.vhdx")).size;
    const propertiesSize = statSync(join(world.shareDir, "store", "Gold.vdisk.json")).size;

    const both = await world.run("inspect", { jobId: published.id });
    assert.equal(both.status, "complete", JSON.stringify(both.error));
    assert.deepEqual(both.additionalInfo.artifacts, {
      location: world.smbLocation("store/"),
      files: [
        { name: "Gold.vhdx", exists: true, sizeBytes: vdiskSize },
        { name: "Gold.vdisk.json", exists: true, sizeBytes: propertiesSize },
      ],
    });

    rmSync(join(world.shareDir, "store", "Gold.vdisk.json"));
    const half = await world.run("inspect", { jobId: published.id });
    assert.equal(half.status, "complete", JSON.stringify(half.error));
    assert.deepEqual((half.additionalInfo.artifacts as { files: unknown[] }).files, [
      { name: "Gold.vhdx", exists: true, sizeBytes: vdiskSize },
      { name: "Gold.vdisk.json", exists: false },
    ]);
  });

  it("inspects files named directly, too", async () => {
    const named = await world.run("inspect", { storageLocation: { location: world.fileLocation(world.inputDir) }, filenames: ["src.qcow2", "nope.raw"] });
    assert.equal(named.status, "complete", JSON.stringify(named.error));
    assert.deepEqual((named.additionalInfo.artifacts as { files: unknown[] }).files, [
      { name: "src.qcow2", exists: true, sizeBytes: statSync(join(world.inputDir, "src.qcow2")).size },
      { name: "nope.raw", exists: false },
    ]);
  });

  it("fails with SHARE_UNREACHABLE when the share cannot be reached (that is no answer about the files)", async () => {
    const port = await closedPort();
    const job = await world.run("inspect", {
      storageLocation: { location: `smb://127.0.0.1:${port}/images/store/`, credentialId: "smb" },
      filenames: ["Gold.vhdx"],
    });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "SHARE_UNREACHABLE");
    assert.deepEqual(job.additionalInfo.artifacts, {});
  });
});
