// $inspect and $delete {jobId} of a complete AWS upload job, against a real moto_server: inspect
// sees the snapshot and the AMI, delete removes both (AMI first), inspect then sees them gone,
// and the upload job's clientToken is released so its request starts a new upload.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { DescribeImagesCommand, DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk } from "../helpers/disks";
import { AWS_CREDENTIAL_ID, AwsWorld, startAwsWorld } from "../helpers/aws-world";
import { MOTO_REGION } from "../helpers/moto";

const MIB = 1024 * 1024;

describe("upload to AWS: $inspect and $delete by job id", function () {
  this.timeout(180_000);
  let aws: AwsWorld;

  before(async () => {
    aws = await startAwsWorld();
  });
  after(async () => {
    await aws?.close();
  });

  it("inspect reports both, delete removes both, inspect then reports them gone and the token is released", async () => {
    const { world, moto } = aws;
    await makeSparseDisk({ path: join(world.inputDir, "app.vhdx"), format: "vhdx", virtualSize: 16 * MIB, dataBytes: MIB, seed: "aws-del" });
    const request = {
      platform: "aws",
      region: MOTO_REGION,
      platformCredentialId: AWS_CREDENTIAL_ID,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "app.vhdx",
      clientToken: "upload-app-1",
    };
    const upload = await world.run("upload", request);
    assert.equal(upload.status, "complete", JSON.stringify(upload.error));
    const { snapshotId, amiId } = upload.additionalInfo.artifacts as { snapshotId: string; amiId: string };

    // Stored resolved: the connector gets the region, the credential and the ids.
    const dry = await world.submit("inspect", { jobId: upload.id }, "?dryRun=true");
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.deepEqual(dry.json.parameters.cloudResources, [
      { kind: "snapshot", id: snapshotId },
      { kind: "image", id: amiId },
    ]);
    assert.equal(dry.json.parameters.platformCredentialId, AWS_CREDENTIAL_ID);

    const before = await world.run("inspect", { jobId: upload.id });
    assert.equal(before.status, "complete", JSON.stringify(before.error));
    assert.deepEqual(before.additionalInfo.artifacts, {
      platform: "aws",
      region: MOTO_REGION,
      cloudResources: [
        { kind: "snapshot", id: snapshotId, exists: true, state: "completed" },
        { kind: "image", id: amiId, exists: true, state: "available" },
      ],
    });
    // Everything exists: the same request still re-attaches to the upload job.
    const again = await world.submit("upload", request);
    assert.equal(again.status, 200);
    assert.equal(again.json.id, upload.id);

    const removal = await world.run("delete", { jobId: upload.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual(removal.additionalInfo.artifacts, {
      platform: "aws",
      region: MOTO_REGION,
      cloudResources: [
        { kind: "image", id: amiId, removed: true },
        { kind: "snapshot", id: snapshotId, removed: true },
      ],
    });
    // Gone in "AWS" itself, not only in the engine's report.
    const images = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
    assert.ok(!(images.Images ?? []).some((i) => i.ImageId === amiId), "the AMI is deregistered");
    const snaps = await moto.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
    assert.ok(!(snaps.Snapshots ?? []).some((s) => s.SnapshotId === snapshotId), "the snapshot is deleted");

    const after = await world.run("inspect", { jobId: upload.id });
    assert.equal(after.status, "complete", JSON.stringify(after.error));
    assert.deepEqual((after.additionalInfo.artifacts as any).cloudResources, [
      { kind: "snapshot", id: snapshotId, exists: false },
      { kind: "image", id: amiId, exists: false },
    ]);

    // A second delete finds nothing and says so, without failing.
    const twice = await world.run("delete", { jobId: upload.id });
    assert.equal(twice.status, "complete");
    assert.deepEqual((twice.additionalInfo.artifacts as any).cloudResources.map((r: any) => r.removed), [false, false]);
    assert.deepEqual(twice.warnings.map((w) => w.code), ["RESOURCE_ALREADY_GONE", "RESOURCE_ALREADY_GONE"]);

    // The delete released the token: the same request starts a new upload.
    const fresh = await world.submit("upload", request);
    assert.equal(fresh.status, 202, JSON.stringify(fresh.json));
    assert.notEqual(fresh.json.id, upload.id);
    const second = await world.wait(fresh.json.id);
    assert.equal(second.status, "complete", JSON.stringify(second.error));
    assert.notEqual((second.additionalInfo.artifacts as any).snapshotId, snapshotId);
  });
});
