// $upload to AWS against a real moto_server: the disk's data blocks (and only those) reach an
// EBS snapshot through the EBS direct API, and an AMI is registered from it.

import * as assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk } from "../helpers/disks";
import { AWS_CREDENTIAL_ID, AwsWorld, EBS_BLOCK, rawOracle, snapshotContent, startAwsWorld } from "../helpers/aws-world";
import { MOTO_REGION } from "../helpers/moto";

const MIB = 1024 * 1024;

describe("upload to AWS: only data blocks are written, and an AMI is registered", function () {
  this.timeout(180_000);
  let aws: AwsWorld;

  before(async () => {
    aws = await startAwsWorld();
  });
  after(async () => {
    await aws?.close();
  });

  it("a sparse 64 MiB VHDX on a share becomes a snapshot holding exactly its data blocks, and an AMI rooted on it", async () => {
    const { world, moto } = aws;
    const disk = join(world.inputDir, "web01.vhdx");
    // 3 MiB in 64 KiB pieces spread over 64 MiB: most 512 KiB blocks stay holes.
    await makeSparseDisk({ path: disk, format: "vhdx", virtualSize: 64 * MIB, dataBytes: 3 * MIB, seed: "aws-upload" });
    copyFileSync(disk, join(world.shareDir, "web01.vhdx"));
    const oracle = rawOracle(disk, "vhdx", world.root);
    assert.ok(oracle.dataBlocks.length > 10 && oracle.dataBlocks.length < 128, `the disk is sparse (${oracle.dataBlocks.length} of 128 blocks hold data)`);

    const started = Date.now();
    const job = await world.run("upload", {
      platform: "aws",
      region: MOTO_REGION,
      platformCredentialId: AWS_CREDENTIAL_ID,
      inputStorageLocation: { location: world.smbLocation(), credentialId: "smb" },
      inputImageFilename: "web01.vhdx",
      targetSnapshotName: "web01 golden",
      amiName: "web01-golden-v1",
      tags: { team: "vdi" },
      hashDisk: true,
    });
    const elapsedMs = Date.now() - started;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => [s.name, s.status]), [
      ["validate", "complete"],
      ["fetch", "complete"],
      ["upload", "complete"],
      ["register", "complete"],
    ]);
    const a = job.additionalInfo.artifacts as any;
    console.log(`      upload of ${oracle.dataBlocks.length} blocks (64 MiB VHDX over SMB) took ${elapsedMs} ms`);

    assert.equal(a.platform, "aws");
    assert.equal(a.region, MOTO_REGION);
    assert.equal(a.virtualSizeBytes, 64 * MIB);
    assert.equal(a.volumeSizeGiB, 1);
    assert.equal(a.blockSize, EBS_BLOCK);
    assert.equal(a.blocksWritten, oracle.dataBlocks.length, "one PutSnapshotBlock per block that holds data, none for zero blocks");
    assert.equal(a.sizeBytes, oracle.dataBlocks.length * EBS_BLOCK);
    assert.equal(a.sha256, oracle.sha256, "with hashDisk, the content hash is that of qemu-img's raw conversion");
    assert.equal(a.blockDigest, oracle.blockDigest, "the block digest is that of the raw content");
    assert.match(a.snapshotId, /^snap-/);
    assert.match(a.amiId, /^ami-/);
    assert.equal(a.targetId, a.amiId);
    assert.deepEqual(a.cloudResources, [
      { kind: "snapshot", id: a.snapshotId, region: MOTO_REGION },
      { kind: "image", id: a.amiId, region: MOTO_REGION },
    ]);

    // The snapshot, as EC2 sees it.
    const snaps = await moto.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [a.snapshotId] }));
    const snap = snaps.Snapshots![0]!;
    assert.equal(snap.State, "completed");
    assert.equal(snap.VolumeSize, 1);
    assert.equal(snap.Description, "web01 golden");

    // The blocks moto holds reassemble to the disk, and they are exactly the data blocks.
    const held = await snapshotContent(moto, a.snapshotId, oracle.virtualSize);
    assert.deepEqual(held.blockIndexes, oracle.dataBlocks, "moto holds the data blocks and nothing else");
    assert.equal(held.sha256, oracle.sha256, "the snapshot's content is the disk's raw content");

    // The AMI: moto keeps only its name, so its registration is read from the request the engine sent.
    const images = await moto.ec2.send(new DescribeImagesCommand({ ImageIds: [a.amiId] }));
    assert.equal(images.Images![0]!.Name, "web01-golden-v1");
    const register = moto.requests.filter((r) => r.form?.get("Action") === "RegisterImage");
    assert.equal(register.length, 1);
    const form = Object.fromEntries(register[0]!.form!);
    assert.equal(form["RootDeviceName"], "/dev/sda1");
    assert.equal(form["BlockDeviceMapping.1.DeviceName"], "/dev/sda1");
    assert.equal(form["BlockDeviceMapping.1.Ebs.SnapshotId"], a.snapshotId, "the AMI's root device is the uploaded snapshot");
    assert.equal(form["Architecture"], "x86_64");
    assert.equal(form["VirtualizationType"], "hvm");
    assert.equal(form["EnaSupport"], "true");

    // Every block went with the SHA-256 real AWS checks (moto does not): 512 KiB, checksum of the body.
    const puts = moto.requests.filter((r) => r.method === "PUT" && /\/snapshots\/[^/]+\/blocks\/\d+$/.test(r.path));
    assert.equal(puts.length, oracle.dataBlocks.length);
    for (const put of puts) {
      assert.equal(put.bodyLength, EBS_BLOCK);
      assert.equal(String(put.headers["x-amz-checksum-algorithm"]), "SHA256");
      assert.equal(String(put.headers["x-amz-checksum"]), put.bodySha256, `block ${put.path}: checksum of its body`);
    }
    const complete = moto.requests.find((r) => r.method === "POST" && r.path.includes("/snapshots/completion/"));
    assert.equal(String(complete?.headers["x-amz-changedblockscount"]), String(oracle.dataBlocks.length));
  });
});
