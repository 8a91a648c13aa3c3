import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DeregisterImageCommand, DescribeImagesCommand, DescribeSnapshotsCommand, RunInstancesCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../helpers/moto";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/image");

/** UploadJob (snapshot only) -> Image (an AMI) with the real CLI, against moto_server standing in for AWS. */
describe("Image on AWS: an AMI from an uploaded snapshot, with its MCS master image path", function () {
  this.timeout(600_000);
  let moto: Moto;
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };

  const liveAmis = async () => ((await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }))).Images ?? []).filter((i) => i.State !== "deregistered");

  before(async () => {
    images = await tempDir("image-e2e-");
    await makeSparseDisk({ path: path.join(images.dir, "golden.vhdx"), format: "vhdx", virtualSize: 16 << 20, dataBytes: 1 << 20, seed: "image-e2e" });
    moto = await startMoto();
    engine = await EngineProcess.start(undefined, { IMAGEPORT_AWS_ENDPOINT_URL: moto.url });
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "image:accessKeyId": { value: MOTO_KEYS.accessKeyId },
      "image:secretAccessKey": { value: MOTO_KEYS.secretAccessKey, secret: true },
      "image:region": { value: MOTO_REGION },
      "image:inputLocation": { value: `file://${images.dir}/` },
      "image:inputImageFilename": { value: "golden.vhdx" },
      "image:hostingUnit": { value: "aws-east" },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await moto?.stop();
    await images?.remove();
  });

  it("up registers one AMI, from the upload's snapshot, named by its master image path", async () => {
    await project.ok(["up", "--yes"]);
    const out = await project.outputs();
    assert.match(String(out.imageId), /^ami-/);
    assert.equal(out.sourceId, out.snapshotId);
    assert.equal(out.masterImagePath, `XDHyp:\\HostingUnits\\aws-east\\golden-2026.11 (${out.imageId}).ami`);
    // The upload registered none (createAmi: false): the Image's AMI is the only one.
    assert.deepEqual((await liveAmis()).map((i) => [i.ImageId, i.Name]), [[out.imageId, "golden-2026.11"]]);
  });

  it("previews and refreshes without changes", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("a new hostingUnit updates the path in place: same job, same AMI", async () => {
    const before = await project.outputs();
    await project.setConfig({ "image:hostingUnit": { value: "aws-west" } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.output, /~ 1 to update/);
    assert.doesNotMatch(preview.output, /to replace/);
    await project.ok(["up", "--yes"]);
    const after = await project.outputs();
    assert.equal(after.imageJobId, before.imageJobId);
    assert.equal(after.imageId, before.imageId);
    assert.equal(after.masterImagePath, `XDHyp:\\HostingUnits\\aws-west\\golden-2026.11 (${after.imageId}).ami`);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("an AMI deregistered out of band leaves the state on refresh, and the next up registers it again", async () => {
    const { imageId, snapshotId } = await project.outputs();
    await moto.ec2.send(new DeregisterImageCommand({ ImageId: imageId as string }));
    const refresh = await project.run(["refresh", "--yes", "--expect-no-changes"]);
    assert.notEqual(refresh.code, 0, "refresh reports the AMI as gone");
    assert.ok(!(await project.resources()).some((r) => r.type === "imageport:index:Image"), "the Image left the state");
    await project.ok(["up", "--yes"]);
    const again = await project.outputs();
    assert.notEqual(again.imageId, imageId);
    assert.equal(again.sourceId, snapshotId, "from the same upload, which was not redone");
  });

  it("destroy refuses while an instance runs from the AMI, then removes the AMI and the snapshot", async () => {
    const { imageId, snapshotId } = await project.outputs();
    const run = await moto.ec2.send(new RunInstancesCommand({ ImageId: imageId as string, MinCount: 1, MaxCount: 1, InstanceType: "t3.micro" }));
    const instanceId = run.Instances![0]!.InstanceId!;
    try {
      const destroy = await project.run(["destroy", "--yes"]);
      assert.notEqual(destroy.code, 0);
      assert.match(destroy.output, new RegExp(`IMAGE_IN_USE.*${imageId} is still used by 1 instance\\(s\\) in ${MOTO_REGION}: ${instanceId}`));
      assert.deepEqual((await liveAmis()).map((i) => i.ImageId), [imageId], "the AMI stays");
      const types = (await project.resources()).map((r) => r.type);
      assert.ok(types.includes("imageport:index:Image") && types.includes("imageport:index:UploadJob"), "both stay in state");
    } finally {
      await moto.ec2.send(new TerminateInstancesCommand({ InstanceIds: [instanceId] }));
    }
    await project.ok(["destroy", "--yes"]);
    assert.deepEqual(await liveAmis(), []);
    const { Snapshots = [] } = await moto.ec2.send(new DescribeSnapshotsCommand({ OwnerIds: ["self"] }));
    assert.ok(!Snapshots.some((s) => s.SnapshotId === snapshotId), "the upload's snapshot is deleted with the UploadJob");
    assert.ok(fs.existsSync(path.join(images.dir, "golden.vhdx")), "the source disk stays");
  });
});
