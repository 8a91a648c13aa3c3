// $createImage on AWS, against a real moto_server: an AMI registered from the snapshot an upload
// left (createAmi: false), owned by the createImage job alone. $delete {jobId} deregisters the
// AMI and leaves the upload's snapshot; an AMI instances run from is refused with IMAGE_IN_USE;
// a missing snapshot, a taken name and fields of the other platform fail naming the field.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { DescribeImagesCommand, DescribeSnapshotsCommand, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk } from "../helpers/disks";
import { AWS_CREDENTIAL_ID, AwsWorld, startAwsWorld } from "../helpers/aws-world";
import { MOTO_REGION } from "../helpers/moto";

const MIB = 1024 * 1024;

describe("$createImage on AWS: an AMI from an uploaded snapshot", function () {
  this.timeout(180_000);
  let aws: AwsWorld;
  let snapshotId: string;
  const image = (extra: object = {}) => ({ platform: "aws", platformCredentialId: AWS_CREDENTIAL_ID, region: MOTO_REGION, imageName: "golden-2026.11", ...extra });

  before(async () => {
    aws = await startAwsWorld();
    const { world } = aws;
    await makeSparseDisk({ path: join(world.inputDir, "golden.vhdx"), format: "vhdx", virtualSize: 16 * MIB, dataBytes: MIB, seed: "ami" });
    const upload = await world.run("upload", {
      platform: "aws",
      region: MOTO_REGION,
      platformCredentialId: AWS_CREDENTIAL_ID,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "golden.vhdx",
      createAmi: false,
    });
    assert.equal(upload.status, "complete", JSON.stringify(upload.error));
    snapshotId = (upload.additionalInfo.artifacts as { snapshotId: string }).snapshotId;
  });
  after(async () => {
    await aws?.close();
  });

  it("registers an AMI from the snapshot, records it, and a second one of the same name is refused", async () => {
    const { world, moto } = aws;
    const job = await world.run("createImage", image({ snapshotId, tags: { team: "vdi" } }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const artifacts = job.additionalInfo.artifacts as Record<string, any>;
    assert.equal(artifacts.platform, "aws");
    assert.equal(artifacts.sourceId, snapshotId);
    assert.match(artifacts.imageId, /^ami-/);
    assert.deepEqual(artifacts.cloudResources, [{ kind: "image", id: artifacts.imageId, region: MOTO_REGION }]);

    const [ami] = (await moto.ec2.send(new DescribeImagesCommand({ ImageIds: [artifacts.imageId] }))).Images ?? [];
    assert.equal(ami?.Name, "golden-2026.11");
    assert.equal(ami?.State, "available");
    assert.equal(ami?.RootDeviceName, "/dev/sda1");
    // moto keeps neither the block device mapping nor the tags; the recording proxy saw them.
    const sent = moto.requests.filter((r) => r.form?.get("Action") === "RegisterImage" && r.form.get("Name") === "golden-2026.11");
    assert.equal(sent.length, 1);
    const form = sent[0]!.form!;
    assert.equal(form.get("BlockDeviceMapping.1.DeviceName"), "/dev/sda1");
    assert.equal(form.get("BlockDeviceMapping.1.Ebs.SnapshotId"), snapshotId);
    const tags = new Map<string, string>();
    for (let i = 1; form.has(`TagSpecification.1.Tag.${i}.Key`); i++) tags.set(form.get(`TagSpecification.1.Tag.${i}.Key`)!, form.get(`TagSpecification.1.Tag.${i}.Value`)!);
    assert.equal(tags.get("team"), "vdi");
    assert.equal(tags.get("imageport:jobId"), job.id);

    const twice = await world.run("createImage", image({ snapshotId }));
    assert.equal(twice.status, "failed");
    assert.equal(twice.error?.code, "OUTPUT_EXISTS");
    assert.match(twice.error!.message, new RegExp(`'golden-2026.11' already exists in ${MOTO_REGION} \\(${artifacts.imageId}\\)`));
  });

  it("delete by job id refuses while an instance runs from the AMI, then deregisters only the AMI", async () => {
    const { world, moto } = aws;
    const job = await world.run("createImage", image({ snapshotId, imageName: "golden-in-use" }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const amiId = (job.additionalInfo.artifacts as { imageId: string }).imageId;

    const inspected = await world.run("inspect", { jobId: job.id });
    assert.deepEqual((inspected.additionalInfo.artifacts as any).cloudResources, [{ kind: "image", id: amiId, exists: true, state: "available" }]);

    const run = await moto.ec2.send(new RunInstancesCommand({ ImageId: amiId, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
    const instanceId = run.Instances![0]!.InstanceId!;
    try {
      const refused = await world.run("delete", { jobId: job.id });
      assert.equal(refused.status, "failed");
      assert.equal(refused.error?.code, "IMAGE_IN_USE");
      assert.match(refused.error!.message, new RegExp(`${amiId} is still used by 1 instance\\(s\\) in ${MOTO_REGION}: ${instanceId}`));
      const still = (await moto.ec2.send(new DescribeImagesCommand({ ImageIds: [amiId] }))).Images ?? [];
      assert.equal(still[0]?.State, "available", "the AMI stays");
    } finally {
      await moto.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    }

    const removal = await world.run("delete", { jobId: job.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual((removal.additionalInfo.artifacts as any).cloudResources, [{ kind: "image", id: amiId, removed: true }]);
    const images = (await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? [];
    assert.ok(!images.some((i) => i.ImageId === amiId && i.State !== "deregistered"), "the AMI is deregistered");
    const snaps = (await moto.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }))).Snapshots ?? [];
    assert.equal(snaps[0]?.State, "completed", "the upload's snapshot is not the image job's to remove");
  });

  it("a snapshot that does not exist fails with PLATFORM_NOT_FOUND naming snapshotId, and registers nothing", async () => {
    const { world, moto } = aws;
    const before = (await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images?.length ?? 0;
    const job = await world.run("createImage", image({ snapshotId: "snap-0123456789abcdef0", imageName: "nothing-here" }));
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_NOT_FOUND");
    assert.match(job.error!.message, /snap-0123456789abcdef0 does not exist in .*\(field snapshotId\)/);
    assert.equal((await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images?.length ?? 0, before);
  });

  it("bad input is a 400 naming each field: missing snapshotId, an azure field, a bad name, a wrong credential", async () => {
    const { world } = aws;
    const res = await world.submit("createImage", image({ imageName: "x", diskId: "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/disks/d", platformCredentialId: "nope" }));
    assert.equal(res.status, 400, JSON.stringify(res.json));
    assert.equal(res.json.error.code, "VALIDATION_FAILED");
    const fields = Object.fromEntries(res.json.error.fields.map((e: any) => [e.field, e.message]));
    assert.match(fields.snapshotId, /is required for platform aws/);
    assert.match(fields.diskId, /applies to platform azure only/);
    assert.match(fields.imageName, /must be an AMI name/);
    assert.match(fields.platformCredentialId, /credential 'nope', which does not exist/);
  });
});
