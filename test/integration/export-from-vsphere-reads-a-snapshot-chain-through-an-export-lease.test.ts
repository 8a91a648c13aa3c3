// $export with a vSphere input whose disk is a delta of a snapshot chain (the VM already had
// snapshots, as golden-image VMs do), against the vSphere simulator (test/fakes/vcsim): the disk
// is read through an NFC export lease on the job's snapshot (ExportSnapshot), not from the
// datastore's flat files. The fake makes the chain real: the parent's flat extent holds the
// *old* content and the delta on top (parentCID, SPARSE grains) what changed since, so an
// engine that read the flat base through /folder would write the old disk and fail the
// comparison. The lease is kept alive by HttpNfcLeaseProgress past a short timeout, completed
// after success and aborted after a failure or cancel; the job's snapshot never outlives it; an
// account without VApp.Export is refused before anything changes. An $upload to AWS (moto) from
// such a VM sends the same content.

import * as assert from "node:assert/strict";
import { copyFileSync, openSync, writeSync, closeSync, readdirSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitForJob } from "../../client/waiter";
import { qemuCompare } from "../helpers/disks";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { eventually } from "../helpers/processes";
import { startVcsim, Vcsim, VcsimStats } from "../helpers/vcsim";
import { AwsWorld, AWS_CREDENTIAL_ID, rawOracle, snapshotContent, startAwsWorld } from "../helpers/aws-world";

const MIB = 1024 * 1024;
const VM = "DC0_H0_VM0";
const PASSWORD = "vc-pass-canary-77e1";

describe("$export from vSphere reads a snapshot chain through an export lease", function () {
  this.timeout(180_000);
  let world: JobWorld;
  let vcsim: Vcsim;
  let base: GuestDisk;
  /** The guest disk now: the base plus what changed since the VM's earlier snapshot (in the delta). */
  let current: string;
  let n = 0;

  before(async () => {
    world = await startJobWorld();
    vcsim = await startVcsim({
      users: {
        admin: { password: PASSWORD, privileges: ["*"] },
        noexport: { password: PASSWORD, privileges: ["Datastore.Browse", "VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot"] },
      },
    });
    base = await makeGuestDisk(world.root, { sizeBytes: 64 * MIB, seed: 17, files: 24 });
    current = changedCopy(base.path, join(world.root, "current.raw"));
    assert.ok(!(await qemuCompare(base.path, "raw", current, "raw")), "the delta changes the disk");
    await vcsim.seedDeltaDisk(VM, base.path, current, "raw");
    for (const user of ["admin", "noexport"]) {
      const made = await world.engine.api("POST", "/ips/credentials", { id: `vc-${user}`, type: "UsernamePassword", username: user, password: PASSWORD });
      assert.equal(made.status, 201, made.text);
    }
  });
  afterEach(async () => {
    await vcsim.setNfcDelay(0);
    await vcsim.setNfcLeaseTimeout(0);
    await vcsim.setNfcExportFailure({});
  });
  after(async () => {
    await vcsim?.stop();
    await world?.close();
  });

  function exportBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
    n += 1;
    return {
      vsphereHost: vcsim.host,
      vspherePort: vcsim.port,
      vsphereCredentialId: "vc-admin",
      vsphereSslCaCertificate: vcsim.certificatePem,
      sourceVmName: VM,
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: `chain-${n}.vhdx`,
      ...extra,
    };
  }

  /** The export leases made since `before`, with their states now. */
  function newLeases(before: VcsimStats, after: VcsimStats): string[] {
    return Object.entries(after.nfcExportLeases)
      .filter(([id]) => !(id in before.nfcExportLeases))
      .map(([, state]) => state);
  }

  it("writes a VHDX identical to the disk as of the snapshot (delta over its parent), through a lease it completes", async () => {
    const before = await vcsim.stats();
    const body = exportBody();
    const job = await world.run("export", body, 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const output = join(world.outputDir, String(body.outputImageFilename));
    assert.ok(await qemuCompare(current, "raw", output, "vhdx"), "the VHDX holds the disk as of the snapshot: the delta over its parent");
    assert.ok(!(await qemuCompare(base.path, "raw", output, "vhdx")), "not the parent's (older) content");
    const after = await vcsim.stats();
    assert.deepEqual(newLeases(before, after), ["done"], "one export lease, completed");
    assert.equal(after.soapCalls["ExportSnapshot"] - (before.soapCalls["ExportSnapshot"] ?? 0), 1);
    assert.equal(after.nfcDownloads - before.nfcDownloads, 1);
    assert.equal(after.folderBytesSent - before.folderBytesSent, 0, "nothing read from the datastore's files");
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.equal(artifacts.virtualSizeBytes, 64 * MIB);
    assert.equal(artifacts.sourceBytesRead, after.nfcBytesSent - before.nfcBytesSent, "sourceBytesRead: the bytes downloaded");
    assert.ok(artifacts.sourceBytesRead < 64 * MIB / 2, "the stream holds the data, compressed, not the whole disk");
    assert.equal(after.snapshots[VM], 0, "the job's snapshot is removed");
    assert.deepEqual(readdirSync(world.outputDir).filter((f) => f.startsWith(".") || f.includes("partial")), []);
  });

  it("keeps the lease alive with HttpNfcLeaseProgress through a download longer than its timeout", async () => {
    const before = await vcsim.stats();
    await vcsim.setNfcLeaseTimeout(2);
    // About 6 s of download (the fake waits before each 64 KiB it sends): three lease timeouts.
    const chunks = Math.max(1, Math.ceil(((await lastDownloadBytes()) ?? 8 * MIB) / (64 * 1024)));
    await vcsim.setNfcDelay(Math.max(5, Math.ceil(6000 / chunks)));
    const started = Date.now();
    const body = exportBody();
    const job = await world.run("export", body, 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.ok(Date.now() - started > 4000, "the download outlived the lease's timeout");
    const after = await vcsim.stats();
    assert.deepEqual(newLeases(before, after), ["done"], "the lease never expired");
    assert.ok(after.soapCalls["HttpNfcLeaseProgress"] - (before.soapCalls["HttpNfcLeaseProgress"] ?? 0) >= 6, "progress every quarter of the timeout");
    assert.ok(await qemuCompare(current, "raw", join(world.outputDir, String(body.outputImageFilename)), "vhdx"));
    assert.equal(after.snapshots[VM], 0);
  });

  async function lastDownloadBytes(): Promise<number | undefined> {
    const s = await vcsim.stats();
    return s.nfcDownloads > 0 ? s.nfcBytesSent / s.nfcDownloads : undefined;
  }

  async function failsAndCleansUp(body: Record<string, unknown>, code: string, message: RegExp, leaseState: string): Promise<void> {
    const before = await vcsim.stats();
    const job = await world.run("export", body, 120_000);
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, code, job.error?.message);
    assert.match(job.error!.message, message);
    const after = await vcsim.stats();
    assert.deepEqual(newLeases(before, after), [leaseState]);
    assert.equal(after.snapshots[VM], 0, "the snapshot is removed after the failure");
    assert.ok(!existsSync(join(world.outputDir, String(body.outputImageFilename))), "no output");
  }

  it("a download cut short fails, aborts the lease and removes the snapshot", async () => {
    await vcsim.setNfcExportFailure({ truncateAfterBytes: 256 * 1024 });
    await failsAndCleansUp(exportBody(), "PLATFORM_REQUEST_FAILED", /download/, "aborted");
  });

  it("a lease vCenter fails gives its fault, and removes the snapshot", async () => {
    await vcsim.setNfcExportFailure({ leaseError: "FileFault" });
    await failsAndCleansUp(exportBody(), "PLATFORM_REQUEST_FAILED", /FileFault/, "error: FileFault");
  });

  it("is cancelled mid-download: the lease is aborted, the snapshot removed, nothing written", async () => {
    const before = await vcsim.stats();
    await vcsim.setNfcDelay(300);
    const body = exportBody();
    const submitted = await world.submit("export", body);
    assert.equal(submitted.status, 202, JSON.stringify(submitted.json));
    const id = submitted.json.id as string;
    await eventually("the download to be under way", 30_000, async () => ((await vcsim.stats()).nfcBytesSent > before.nfcBytesSent ? true : undefined));
    await world.client.jobs.cancel(id);
    const result = await waitForJob(world.client.jobs, id, { maxWaitMs: 30_000, minDelayMs: 100, maxDelayMs: 500 });
    assert.equal(result.last?.status, "cancelled");
    await eventually("the snapshot to be removed", 10_000, async () => ((await vcsim.stats()).snapshots[VM] === 0 ? true : undefined));
    assert.deepEqual(newLeases(before, await vcsim.stats()), ["aborted"]);
    assert.ok(!existsSync(join(world.outputDir, String(body.outputImageFilename))));
  });

  it("an account without VApp.Export is refused before anything changes, naming it", async () => {
    const before = await vcsim.stats();
    const body = exportBody({ vsphereCredentialId: "vc-noexport" });
    const job = await world.run("export", body);
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_ACCESS_DENIED", job.error?.message);
    assert.match(job.error!.message, /lacks VApp\.Export/);
    const after = await vcsim.stats();
    assert.equal(after.soapCalls["CreateSnapshot_Task"] ?? 0, before.soapCalls["CreateSnapshot_Task"] ?? 0, "no snapshot attempted");
    assert.deepEqual(newLeases(before, after), [], "no lease");
    assert.equal(after.snapshots[VM], 0);
    assert.ok(!existsSync(join(world.outputDir, String(body.outputImageFilename))));
    const dry = await world.submit("export", exportBody({ vsphereCredentialId: "vc-noexport" }), "?dryRun=true");
    assert.equal(dry.status, 400);
    assert.match(dry.json.error.message, /VApp\.Export/);
  });
});

/** A copy of `base` with what a guest wrote after an earlier snapshot: a few MiB over its data and in free space. */
function changedCopy(base: string, path: string): string {
  copyFileSync(base, path);
  const fd = openSync(path, "r+");
  try {
    for (const [at, length, fill] of [[2 * MIB, 3 * MIB, 0x5a], [30 * MIB + 4096, MIB, 0xc3], [60 * MIB, 512 * 1024, 0x11]] as const) {
      const data = Buffer.alloc(length, fill);
      for (let i = 0; i < length; i += 4096) data.writeUInt32LE(i ^ at, i);
      writeSync(fd, data, 0, length, at);
    }
  } finally {
    closeSync(fd);
  }
  return path;
}

describe("$upload to AWS from a vSphere VM whose disk is a snapshot chain", function () {
  this.timeout(180_000);
  let aws: AwsWorld;
  let vcsim: Vcsim;
  let scratch: string;
  let current: string;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), "imageport-vsphere-chain-upload-"));
    aws = await startAwsWorld();
    vcsim = await startVcsim();
    const base = await makeGuestDisk(scratch, { sizeBytes: 64 * MIB, seed: 19, files: 24 });
    current = changedCopy(base.path, join(scratch, "current.raw"));
    await vcsim.seedDeltaDisk(VM, base.path, current, "raw");
    const made = await aws.world.engine.api("POST", "/ips/credentials", { id: "vc", type: "UsernamePassword", username: "administrator", password: "pw" });
    assert.equal(made.status, 201, made.text);
  });
  after(async () => {
    await vcsim?.stop();
    await aws?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("makes an EBS snapshot identical to the disk as of the snapshot, sending only its data blocks", async () => {
    const before = await vcsim.stats();
    const job = await aws.world.run(
      "upload",
      {
        platform: "aws",
        region: "us-east-1",
        platformCredentialId: AWS_CREDENTIAL_ID,
        vsphereHost: vcsim.host,
        vspherePort: vcsim.port,
        vsphereCredentialId: "vc",
        vsphereSslFingerprint: vcsim.sha1Fingerprint,
        sourceVmName: VM,
        createAmi: false,
      },
      120_000,
    );
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    const oracle = rawOracle(current, "raw", scratch);
    const content = await snapshotContent(aws.moto, artifacts.snapshotId, oracle.virtualSize);
    assert.equal(content.sha256, oracle.sha256, "the EBS snapshot holds the disk as of the snapshot (delta over its parent)");
    assert.deepEqual(content.blockIndexes.sort((a, b) => a - b), oracle.dataBlocks, "only the blocks holding data were sent");
    const after = await vcsim.stats();
    assert.deepEqual(
      Object.entries(after.nfcExportLeases).filter(([id]) => !(id in before.nfcExportLeases)).map(([, state]) => state),
      ["done"],
    );
    assert.equal(after.folderBytesSent - before.folderBytesSent, 0);
    assert.equal(after.snapshots[VM], 0, "the job's snapshot is removed");
  });
});
