// $upload from a VM's disk on vCenter to the two other clouds: the managed disk on Azure and
// the disk.raw archive on GCP hold exactly the VM's disk, read from the datastore as of the
// job's snapshot, and the snapshot is gone afterwards.

import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { AzureWorld, blobContent, sha256, startAzureWorld } from "../helpers/azure-world";
import { GcpWorld, GCP_BUCKET, GCP_CREDENTIAL_ID, GCP_PROJECT, paddedRawOracle, startGcpWorld, untarArchive } from "../helpers/gcp-world";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { JobWorld } from "../helpers/job-world";
import { startVcsim, Vcsim } from "../helpers/vcsim";

const MIB = 1024 * 1024;
const VM = "DC0_H0_VM0";

/** A vcsim whose VM holds a guest disk with changed-block tracking, and a credential for it in the engine. */
async function vsphereSource(world: JobWorld): Promise<{ vcsim: Vcsim; guest: GuestDisk; body: Record<string, unknown> }> {
  const vcsim = await startVcsim();
  const guest = await makeGuestDisk(world.root, { sizeBytes: 48 * MIB, seed: 41, files: 16 });
  await vcsim.seedDisk(VM, guest.path, "raw");
  await vcsim.enableChangeTracking(VM);
  const made = await world.engine.api("POST", "/ips/credentials", { id: "vc", type: "UsernamePassword", username: "u", password: "p" });
  assert.equal(made.status, 201, made.text);
  const body = { vsphereHost: vcsim.host, vspherePort: vcsim.port, vsphereCredentialId: "vc", vsphereSslFingerprint: vcsim.sha256Fingerprint, sourceVmName: VM };
  return { vcsim, guest, body };
}

describe("$upload from vSphere to Azure: the managed disk holds the VM's disk", function () {
  this.timeout(180_000);
  let az: AzureWorld;
  let source: Awaited<ReturnType<typeof vsphereSource>>;

  before(async () => {
    az = await startAzureWorld();
    source = await vsphereSource(az.world);
  });
  after(async () => {
    await source?.vcsim.stop();
    await az?.close();
  });

  it("streams the allocated areas into a managed disk identical to the VM's disk and removes the snapshot", async () => {
    const job = await az.world.run("upload", { ...az.target, ...source.body, targetDiskName: "vm-os" }, 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => s.name), ["validate", "snapshot", "upload", "register", "cleanup"]);
    const content = await blobContent(az, az.arm.disk("vm-os")!);
    const raw = readFileSync(source.guest.path);
    assert.equal(sha256(content.subarray(0, raw.length)), sha256(raw), "the disk holds exactly the VM's disk");
    const a = job.additionalInfo.artifacts as Record<string, any>;
    assert.ok(a.sourceBytesRead < 48 * MIB / 2, `only the allocated areas were read (${a.sourceBytesRead} bytes)`);
    assert.equal((await source.vcsim.stats()).snapshots[VM], 0);
  });
});

describe("$upload from vSphere to GCP: the disk.raw archive holds the VM's disk", function () {
  this.timeout(180_000);
  let gcp: GcpWorld;
  let source: Awaited<ReturnType<typeof vsphereSource>>;

  before(async () => {
    gcp = await startGcpWorld();
    source = await vsphereSource(gcp.world);
  });
  after(async () => {
    await source?.vcsim.stop();
    await gcp?.close();
  });

  it("streams the allocated areas into a sparse tar.gz in GCS and an image, and removes the snapshot", async () => {
    const job = await gcp.world.run(
      "upload",
      { platform: "gcp", platformCredentialId: GCP_CREDENTIAL_ID, project: GCP_PROJECT, bucket: GCP_BUCKET, targetImageName: "vm-golden", ...source.body },
      120_000,
    );
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const a = job.additionalInfo.artifacts as Record<string, any>;
    const archive = await gcp.gcs.readObject(GCP_BUCKET, a.objectName);
    assert.ok(archive, "the archive is in the bucket");
    const extracted = untarArchive(archive!, gcp.world.root);
    const oracle = paddedRawOracle(source.guest.path, "raw", gcp.world.root);
    assert.equal(extracted.sha256, oracle.paddedSha256, "disk.raw is the VM's disk, padded to a whole GiB");
    assert.equal(a.blockDigest, oracle.blockDigest);
    assert.ok(a.sourceBytesRead < 48 * MIB, `reads follow the allocated areas (${a.sourceBytesRead} bytes)`);
    assert.equal((await source.vcsim.stats()).snapshots[VM], 0);
  });
});
