import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk, qemuCompare, qemuImgInfo } from "../helpers/disks";
import { independentBlockDigest } from "../helpers/block-digest-oracle";
import { independentContentHash, JobWorld, SMB_USER, startJobWorld } from "../helpers/job-world";

const MIB = 1024 * 1024;

describe("export, prepare and publish jobs write disks identical to their source (real qemu-img, real Samba)", function () {
  this.timeout(180_000);
  let world: JobWorld;
  let source: string;
  const SOURCE_SIZE = 48 * MIB + 7 * 512; // not a whole MiB: fixed VHDs must round it up

  before(async () => {
    world = await startJobWorld();
    for (const dir of ["exports", "store"]) mkdirSync(join(world.shareDir, dir), { mode: 0o777 });
    source = join(world.inputDir, "golden.qcow2");
    await makeSparseDisk({ path: source, format: "qcow2", virtualSize: SOURCE_SIZE, dataBytes: 12 * MIB, seed: 1 });
  });
  after(async () => world?.close());

  it("exports a qcow2 disk to a dynamic VHDX in a local directory, with the content's sha256 recorded when hashDisk asks", async () => {
    const job = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "golden.qcow2",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "golden.vhdx",
      outputImageFormat: "vhdx",
      hashDisk: true,
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.equal(job.overallProgressPercent, 100);
    assert.deepEqual(job.steps.map((s) => s.status), job.steps.map(() => "complete"));
    const out = join(world.outputDir, "golden.vhdx");
    assert.ok(await qemuCompare(source, "qcow2", out, "vhdx"), "qemu-img compare finds the export identical");
    const artifacts = job.additionalInfo.artifacts as Record<string, unknown>;
    assert.equal(artifacts.sha256, independentContentHash(out, "vhdx", world.root));
    assert.equal(artifacts.blockDigest, independentBlockDigest(out, "vhdx", world.root));
    assert.equal(artifacts.sizeBytes, statSync(out).size);
    assert.equal(artifacts.virtualSizeBytes, SOURCE_SIZE);
    assert.deepEqual(readdirSync(world.outputDir), ["golden.vhdx"], "no temporary file is left beside the output");
  });

  it("exports to a fixed VHD on an SMB share, rounded up to a whole MiB, verified by its block digest alone", async () => {
    const job = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "golden.qcow2",
      outputStorageLocation: { location: world.smbLocation("exports/"), credentialId: "smb" },
      outputImageFilename: "golden-fixed.vhd",
      outputImageFormat: "vhd",
      outputDiskType: "fixed",
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const out = join(world.shareDir, "exports", "golden-fixed.vhd");
    assert.ok(existsSync(out), "the VHD is on the share");
    assert.equal(statSync(out).size, 49 * MIB + 512, "fixed VHD: a whole number of MiB plus the 512-byte footer");
    assert.ok(await qemuCompare(source, "qcow2", out, "vhd"), "identical content (the padding reads as zeros)");
    const artifacts = job.additionalInfo.artifacts as Record<string, unknown>;
    assert.equal(artifacts.outputUri, world.smbLocation("exports/") + "golden-fixed.vhd");
    assert.equal(artifacts.blockDigest, independentBlockDigest(out, "vhd", world.root));
    assert.equal(artifacts.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    assert.deepEqual(readdirSync(join(world.shareDir, "exports")), ["golden-fixed.vhd"], "no temporary file is left on the share");
  });

  it("exports a dynamic VHDX (qemu's default blocks) to an SMB share that stores little more than the disk's data", async () => {
    // 8 MiB of data in 1 MiB pieces, each 4 KiB further off a MiB boundary, 32 MiB apart (the
    // bench's worst case): a copy that sent whole VHDX blocks, or whole MiBs, would store
    // several times the data; the share must keep the VHDX's holes as holes.
    const sparse = join(world.inputDir, "sparse.qcow2");
    const data = 8 * MIB;
    await makeSparseDisk({ path: sparse, format: "qcow2", virtualSize: 8 * (32 * MIB + 4096), dataBytes: data, chunk: MIB, seed: 2 });
    const job = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "sparse.qcow2",
      outputStorageLocation: { location: world.smbLocation("exports/"), credentialId: "smb" },
      outputImageFilename: "sparse.vhdx",
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const out = join(world.shareDir, "exports", "sparse.vhdx");
    assert.ok(await qemuCompare(sparse, "qcow2", out, "vhdx"));
    assert.ok((await qemuImgInfo(out, "vhdx"))["cluster-size"] >= 8 * MIB, "qemu's default VHDX block size (8-32 MiB)");
    // What smbd stored: the data, plus the few VHDX headers, BAT and metadata qemu writes.
    const stored = statSync(out).blocks * 512;
    assert.ok(stored <= data * 1.1 + 256 * 1024, `the share stores ${stored} bytes for ${data} of data`);
    const artifacts = job.additionalInfo.artifacts as Record<string, unknown>;
    assert.equal(artifacts.blockDigest, independentBlockDigest(out, "vhdx", world.root));
  });

  it("prepares a data disk from an SMB share (format and geometry only) as a whole-MiB VHDX in a local directory", async () => {
    const job = await world.run("prepare", {
      provisioningType: "Mcs",
      skipGuestPreparation: true,
      inputStorageLocation: { location: world.smbLocation("exports/"), credentialId: "smb" },
      inputImageFilename: "golden-fixed.vhd",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "golden-mcs.vhdx",
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const out = join(world.outputDir, "golden-mcs.vhdx");
    assert.ok(await qemuCompare(source, "qcow2", out, "vhdx"));
    const artifacts = job.additionalInfo.artifacts as Record<string, unknown>;
    assert.equal(artifacts.virtualSizeBytes, 49 * MIB);
    assert.equal(artifacts.provisioningType, "Mcs");
    assert.equal(artifacts.blockDigest, independentBlockDigest(out, "vhdx", world.root));
  });

  it("publishes a prepared disk to a PVS store on an SMB share as a VHDX with its properties file", async () => {
    const job = await world.run("publish", {
      inputStorageLocation: { location: world.fileLocation(world.outputDir) },
      inputImageFilename: "golden-mcs.vhdx",
      outputStorageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      outputImageFilename: "Golden-2026.vhdx",
      vdiskDescription: "golden image, November",
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const vdisk = join(world.shareDir, "store", "Golden-2026.vhdx");
    assert.ok(await qemuCompare(source, "qcow2", vdisk, "vhdx"));
    const properties = JSON.parse(readFileSync(join(world.shareDir, "store", "Golden-2026.vdisk.json"), "utf8"));
    const artifacts = job.additionalInfo.artifacts as Record<string, unknown>;
    assert.equal(properties.blockDigest, artifacts.blockDigest);
    assert.equal(properties.description, "golden image, November");
    assert.equal(properties.jobId, job.id);
    assert.equal(artifacts.blockDigest, independentBlockDigest(vdisk, "vhdx", world.root));
    assert.deepEqual(readdirSync(join(world.shareDir, "store")).sort(), ["Golden-2026.vdisk.json", "Golden-2026.vhdx"]);
  });

  it("prepares (format and geometry only, grown to outputSizeMb) and publishes in one job, reporting every step's progress", async () => {
    const job = await world.run("prepareAndPublish", {
      provisioningType: "Pvs",
      skipGuestPreparation: true,
      outputSizeMb: 64,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "golden.qcow2",
      outputStorageLocation: { location: world.smbLocation("store/"), credentialId: "smb" },
      outputImageFilename: "Golden-pvs.vhdx",
    });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => s.name), ["validate", "fetch", "convert", "commit", "properties"]);
    assert.ok(job.steps.every((s) => s.progressPercent === 100 && s.startedAt && s.finishedAt));
    assert.equal((job.additionalInfo.artifacts as Record<string, unknown>).virtualSizeBytes, 64 * MIB, "outputSizeMb has its effect");
    assert.ok(await qemuCompare(source, "qcow2", join(world.shareDir, "store", "Golden-pvs.vhdx"), "vhdx"));
  });

  it("leaves an existing output alone unless overwriteOutput is set", async () => {
    const body = {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "golden.qcow2",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "golden.vhdx",
    };
    const before = statSync(join(world.outputDir, "golden.vhdx")).mtimeMs;
    const refused = await world.run("export", body);
    assert.equal(refused.status, "failed");
    assert.equal(refused.error?.code, "OUTPUT_EXISTS");
    assert.match(refused.error!.message, /overwriteOutput/);
    assert.equal(statSync(join(world.outputDir, "golden.vhdx")).mtimeMs, before);

    const replaced = await world.run("export", { ...body, overwriteOutput: true });
    assert.equal(replaced.status, "complete", JSON.stringify(replaced.error));
    assert.ok(statSync(join(world.outputDir, "golden.vhdx")).mtimeMs > before);
  });

  it("logs job events as JSON lines with job and connector ids, and never the share's password", async () => {
    const log = readFileSync(join(world.engine.dataDir, "logs", "imageportd.log"), "utf8");
    const events = log.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
    const started = events.filter((e) => e.msg === "job started");
    assert.ok(started.length >= 6);
    assert.ok(started.every((e) => typeof e.jobId === "string" && typeof e.connectorId === "string"));
    assert.ok(events.some((e) => e.msg === "job accepted" && typeof e.jobId === "string"));
    assert.ok(!log.includes(SMB_USER.password), "the SMB password is not in the engine log");
    const jobs = await world.engine.api("GET", "/ips/jobs?pageSize=200");
    assert.ok(!jobs.text.includes(SMB_USER.password), "nor in any job view");
  });
});
