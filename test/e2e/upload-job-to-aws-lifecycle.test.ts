import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DescribeImagesCommand, DescribeSnapshotsCommand, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { EBS_BLOCK, rawOracle, snapshotContent } from "../helpers/aws-world";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../helpers/moto";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/upload-job");

/** A disk to an AMI with `pulumi up`, against moto_server standing in for AWS. */
describe("UploadJob: a disk becomes an EBS snapshot and an AMI, and destroy removes both", function () {
  this.timeout(600_000);
  let moto: Moto;
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };
  let disk: string;

  before(async () => {
    images = await tempDir("upload-e2e-");
    fs.mkdirSync(path.join(images.dir, "exports"));
    disk = path.join(images.dir, "exports/golden.vhdx");
    await makeSparseDisk({ path: disk, format: "vhdx", virtualSize: 48 << 20, dataBytes: 2 << 20, seed: "upload-e2e", chunk: 256 << 10 });
    moto = await startMoto();
    engine = await EngineProcess.start(undefined, { IMAGEPORT_AWS_ENDPOINT_URL: moto.url });
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "upload:accessKeyId": { value: MOTO_KEYS.accessKeyId },
      "upload:secretAccessKey": { value: MOTO_KEYS.secretAccessKey, secret: true },
      "upload:region": { value: MOTO_REGION },
      "upload:inputLocation": { value: `file://${images.dir}/exports/` },
      "upload:inputImageFilename": { value: "golden.vhdx" },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await moto?.stop();
    await images?.remove();
  });

  it("up uploads only the data blocks and registers an AMI on that snapshot", async () => {
    await project.ok(["up", "--yes"]);
    const outputs = await project.outputs();
    const oracle = rawOracle(disk, "vhdx", images.dir);
    assert.equal(outputs.blockDigest, oracle.blockDigest);
    assert.equal(outputs.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    assert.equal(outputs.blocksWritten, oracle.dataBlocks.length);
    const content = await snapshotContent(moto, outputs.snapshotId as string, oracle.virtualSize);
    assert.equal(content.sha256, oracle.sha256, "the snapshot holds the disk");
    const { Images } = await moto.ec2.send(new DescribeImagesCommand({ ImageIds: [outputs.amiId as string] }));
    assert.equal(Images?.[0]?.Name, "golden-image");
    assert.ok(oracle.dataBlocks.length * EBS_BLOCK < oracle.virtualSize, "the disk is sparse, so skipping zeros matters");
  });

  it("previews and refreshes without changes", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("destroy refuses while an instance runs from the AMI, naming it, and removes nothing", async () => {
    const { amiId } = await project.outputs();
    const run = await moto.ec2.send(new RunInstancesCommand({ ImageId: amiId as string, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
    const instanceId = run.Instances![0].InstanceId!;
    try {
      const destroy = await project.run(["destroy", "--yes"]);
      assert.notEqual(destroy.code, 0);
      assert.match(destroy.output, /IMAGE_IN_USE/);
      assert.match(destroy.output, new RegExp(`${amiId} is still used by 1 instance\\(s\\) in ${MOTO_REGION}: ${instanceId}`));
      const { Images = [] } = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
      assert.ok(Images.some((i) => i.ImageId === amiId), "the AMI is still there");
      assert.ok((await project.resources()).some((r) => r.type === "imageport:index:UploadJob"), "and still in state");
    } finally {
      await moto.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    }
  });

  it("destroy deregisters the AMI and deletes the snapshot", async () => {
    const { amiId, snapshotId } = await project.outputs();
    const before = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
    assert.ok(before.Images?.some((i) => i.ImageId === amiId), "listing by owner sees the AMI while it exists");
    await project.ok(["destroy", "--yes"]);
    // List everything this account owns (no ids, so a missing one is not an error to swallow).
    const { Images = [] } = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
    assert.ok(!Images.some((i) => i.ImageId === amiId), "the AMI is deregistered");
    const { Snapshots = [] } = await moto.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
    assert.ok(!Snapshots.some((snap) => snap.SnapshotId === snapshotId), "the snapshot is deleted");
    assert.ok(fs.existsSync(disk), "the source disk stays");
  });
});
