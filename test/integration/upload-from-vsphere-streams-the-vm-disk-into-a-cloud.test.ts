// $upload with a vSphere input: the VM's disk goes from the datastore straight into the cloud,
// one pass, nothing of it staged: to an EBS snapshot and an AMI on moto (content identical to
// the guest disk, only its data blocks sent, only its allocated areas read), and the job's
// snapshot is removed from the VM after success and after a failure in the middle.

import * as assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, truncateSync } from "node:fs";
import { DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AwsWorld, AWS_CREDENTIAL_ID, rawOracle, snapshotContent, startAwsWorld } from "../helpers/aws-world";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { SeededDisk, startVcsim, Vcsim } from "../helpers/vcsim";

const MIB = 1024 * 1024;
const VM = "DC0_H0_VM0";
const OTHER_VM = "DC0_H0_VM1";

describe("$upload from vSphere streams the VM's disk into the cloud", function () {
  this.timeout(180_000);
  let aws: AwsWorld;
  let vcsim: Vcsim;
  let guest: GuestDisk;
  let seeded: SeededDisk;
  let scratch: string;

  before(async () => {
    scratch = mkdtempSync(join(tmpdir(), "imageport-vsphere-upload-"));
    aws = await startAwsWorld();
    vcsim = await startVcsim();
    guest = await makeGuestDisk(scratch, { sizeBytes: 64 * MIB, seed: 31, files: 24 });
    seeded = await vcsim.seedDisk(VM, guest.path, "raw");
    await vcsim.enableChangeTracking(VM);
    const made = await aws.world.engine.api("POST", "/ips/credentials", { id: "vc", type: "UsernamePassword", username: "administrator", password: "pw", domain: "vsphere.local" });
    assert.equal(made.status, 201, made.text);
  });
  after(async () => {
    await vcsim?.stop();
    await aws?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  const vsphere = () => ({
    vsphereHost: vcsim.host,
    vspherePort: vcsim.port,
    vsphereCredentialId: "vc",
    vsphereSslFingerprint: vcsim.sha1Fingerprint,
    sourceVmName: VM,
  });

  it("makes an EBS snapshot and an AMI identical to the VM's disk, sending only its data blocks", async () => {
    const before = await vcsim.stats();
    const job = await aws.world.run("upload", { platform: "aws", region: "us-east-1", platformCredentialId: AWS_CREDENTIAL_ID, ...vsphere() }, 120_000);
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => s.name), ["validate", "snapshot", "upload", "register", "cleanup"]);
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    const oracle = rawOracle(guest.path, "raw", scratch);
    const content = await snapshotContent(aws.moto, artifacts.snapshotId, oracle.virtualSize);
    assert.equal(content.sha256, oracle.sha256, "the snapshot holds exactly the VM's disk");
    assert.deepEqual(content.blockIndexes.sort((a, b) => a - b), oracle.dataBlocks, "only the blocks holding data were sent");
    assert.equal(artifacts.blockDigest, oracle.blockDigest);
    assert.equal(artifacts.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    assert.match(artifacts.amiId, /^ami-/);
    const after = await vcsim.stats();
    assert.ok(after.folderBytesSent - before.folderBytesSent < 64 * MIB / 4, "only the allocated areas were read from the datastore");
    const descriptorBytes = statSync(seeded.descriptorPath).size;
    assert.equal(artifacts.sourceBytesRead, after.folderBytesSent - before.folderBytesSent - descriptorBytes, "the job reports the disk bytes it read");
    assert.equal(artifacts.sourceDisk, `${seeded.fileName} on ${vcsim.host}:${vcsim.port}`);
    assert.equal(after.snapshots[VM], 0, "the job's snapshot is removed");
  });

  it("removes its snapshot and its EBS snapshot when the disk fails to read in the middle", async () => {
    // A VM without change tracking whose flat file is shorter than its descriptor: the read fails at 40 MiB.
    const seeded = await vcsim.seedDisk(OTHER_VM, guest.path, "raw");
    truncateSync(seeded.flatPath, 40 * MIB);
    const snapshotsBefore = await ebsSnapshots();
    const job = await aws.world.run("upload", { platform: "aws", region: "us-east-1", platformCredentialId: AWS_CREDENTIAL_ID, ...vsphere(), sourceVmName: OTHER_VM }, 120_000);
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "SOURCE_DISK_UNREADABLE", job.error?.message);
    assert.equal((await vcsim.stats()).snapshots[OTHER_VM], 0, "the VM's snapshot is removed");
    assert.deepEqual(await ebsSnapshots(), snapshotsBefore, "the half-made EBS snapshot is deleted");
  });

  async function ebsSnapshots(): Promise<string[]> {
    const found = await aws.moto.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
    return (found.Snapshots ?? []).map((s) => s.SnapshotId!).sort();
  }
});
