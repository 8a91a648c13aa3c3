// Cancelling an AWS upload mid-way stops its block requests and deletes the snapshot it
// started, against a real moto_server.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { DescribeSnapshotsCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk } from "../helpers/disks";
import { AWS_CREDENTIAL_ID, AwsWorld, startAwsWorld } from "../helpers/aws-world";
import { MOTO_REGION } from "../helpers/moto";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("upload to AWS: cancel", function () {
  this.timeout(120_000);
  let aws: AwsWorld;

  before(async () => {
    aws = await startAwsWorld();
  });
  after(async () => {
    await aws?.close();
  });

  it("a cancel during the block upload stops the puts and leaves no snapshot", async () => {
    const { world, moto } = aws;
    // Every block holds data: 128 puts, long enough to cancel in the middle.
    await makeSparseDisk({ path: join(world.inputDir, "full.raw"), format: "raw", virtualSize: 64 * MIB, dataBytes: 64 * MIB, seed: "aws-cancel", chunk: MIB });
    const res = await world.submit("upload", {
      platform: "aws",
      region: MOTO_REGION,
      platformCredentialId: AWS_CREDENTIAL_ID,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "full.raw",
    });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const puts = () => moto.requests.filter((r) => r.method === "PUT" && r.path.includes("/blocks/")).length;
    await eventually("the first blocks to be sent", 30_000, () => puts() >= 4);
    const cancel = await world.engine.api("DELETE", `/ips/jobs/${res.json.id}`);
    assert.equal(cancel.status, 202, cancel.text);
    const job = await world.wait(res.json.id);
    assert.equal(job.status, "cancelled");
    const sentAtEnd = puts();
    assert.ok(sentAtEnd < 128, `the upload stopped early (${sentAtEnd} of 128 blocks sent)`);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(puts(), sentAtEnd, "no block is sent after the job ended");

    // moto ships snapshots of its own: look for this job's (named after its input).
    const snaps = await moto.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
    const ours = (snaps.Snapshots ?? []).filter((s) => s.Description === "imageport full.raw");
    assert.deepEqual(ours.map((s) => s.SnapshotId), [], "the half-made snapshot was deleted");
    assert.ok(moto.requests.some((r) => r.form?.get("Action") === "DeleteSnapshot"), "through DeleteSnapshot");
  });
});
