import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { DescribeImagesCommand } from "@aws-sdk/client-ec2";
import { ArmFake, startArmFake } from "../fakes/azure-arm-fake";
import { AZURE_SECRET, LOCATION, RESOURCE_GROUP, SUBSCRIPTION_ID } from "../helpers/azure-world";
import { Azurite, startAzurite } from "../helpers/azurite";
import { makeSparseDisk, qemuCompare, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { independentBlockDigest } from "../helpers/block-digest-oracle";
import { Moto, MOTO_KEYS, MOTO_REGION, startMoto } from "../helpers/moto";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/migration");

/** The Migration component, one stack per workflow, with the real CLI and engine, moto, Azurite and the ARM fake. */
describe("Migration runs each workflow's steps and destroy leaves only the source", function () {
  this.timeout(900_000);
  let moto: Moto;
  let azurite: Azurite;
  let arm: ArmFake;
  let engine: EngineProcess;

  before(async () => {
    moto = await startMoto();
    azurite = await startAzurite();
    arm = await startArmFake({ azurite, ...AZURE_SECRET, subscriptionId: SUBSCRIPTION_ID, resourceGroups: { [RESOURCE_GROUP]: LOCATION } });
    engine = await EngineProcess.start(undefined, {
      IMAGEPORT_AWS_ENDPOINT_URL: moto.url,
      IMAGEPORT_AZURE_AUTHORITY_HOST: arm.url,
      IMAGEPORT_AZURE_ARM_ENDPOINT: arm.url,
    });
  });
  after(async () => {
    await engine?.stop();
    await arm?.stop();
    await azurite?.stop();
    await moto?.stop();
  });

  const cases = [
    { workflow: "McsToPvs", sourceDisk: "master.qcow2", jobs: ["export", "prepareAndPublish"] },
    { workflow: "PvsToPvs", sourceDisk: "vdisk.vhdx", jobs: ["prepareAndPublish"] },
    { workflow: "McsToMcs", sourceDisk: "master.qcow2", jobs: ["export", "prepare", "upload", "createImage"] },
    { workflow: "PvsToMcs", sourceDisk: "vdisk.vhdx", jobs: ["prepare", "upload", "createImage"] },
    { workflow: "McsToMcs", cloud: "azure", sourceDisk: "master.qcow2", jobs: ["export", "prepare", "upload", "createImage"] },
  ];
  for (const c of cases) {
    const cloud = c.cloud ?? "aws";
    const title = c.workflow.endsWith("ToMcs") ? `${c.workflow} (${cloud})` : c.workflow;
    it(`${title}: runs ${c.jobs.join(" -> ")}, the result holds the source's content, destroy cleans up`, async () => {
      const images = await tempDir(`migration-${c.workflow}-`);
      const project = new PulumiProject(PROGRAM, `${c.workflow.toLowerCase()}-${cloud}`);
      try {
        for (const sub of ["source", "staging", "store"]) fs.mkdirSync(path.join(images.dir, sub));
        const source = path.join(images.dir, "source", c.sourceDisk);
        const format = c.sourceDisk.endsWith(".vhdx") ? "vhdx" : "qcow2";
        await makeSparseDisk({ path: source, format, virtualSize: 40 << 20, dataBytes: 1 << 20, seed: c.workflow });
        await project.init({
          ...engine.providerConfig(),
          "migration:workflow": { value: c.workflow },
          "migration:imageDir": { value: images.dir },
          "migration:sourceDisk": { value: c.sourceDisk },
          "migration:cloud": { value: cloud },
          ...(cloud === "aws"
            ? {
                "migration:region": { value: MOTO_REGION },
                "migration:accessKeyId": { value: MOTO_KEYS.accessKeyId },
                "migration:secretAccessKey": { value: MOTO_KEYS.secretAccessKey, secret: true },
              }
            : {
                "migration:region": { value: LOCATION },
                "migration:subscriptionId": { value: SUBSCRIPTION_ID },
                "migration:resourceGroup": { value: RESOURCE_GROUP },
                "migration:tenantId": { value: AZURE_SECRET.tenantId },
                "migration:clientId": { value: AZURE_SECRET.clientId },
                "migration:clientSecret": { value: AZURE_SECRET.clientSecret, secret: true },
              }),
        });
        const since = new Date().toISOString();
        await project.ok(["up", "--yes"]);
        const ran = (await engine.client().jobs.list()).items.filter((j) => j.createdAt >= since && j.type !== "inspect");
        assert.deepEqual(ran.map((j) => j.type).reverse(), c.jobs);
        const outputs = await project.outputs();
        assert.equal(outputs.blockDigest, independentBlockDigest(source, format, images.dir));
        if (c.workflow.endsWith("ToPvs")) {
          assert.ok(await qemuCompare(source, format, path.join(images.dir, "store/golden.vhdx"), "vhdx"));
        } else if (cloud === "azure") {
          const disk = arm.disk("golden-mcs");
          assert.equal(disk?.diskState, "Unattached", "the managed disk is uploaded");
          const snapshot = arm.snapshots.get(String(outputs.imageId).toLowerCase());
          assert.ok(String(outputs.imageId).endsWith("/snapshots/golden-mcs-snapshot"), "MCS gets a snapshot of the disk");
          assert.equal(snapshot?.sourceDiskId, disk.id);
          assert.equal(outputs.masterImagePath, `XDHyp:\\HostingUnits\\unit-1\\image.folder\\${RESOURCE_GROUP}.resourcegroup\\golden-mcs-snapshot.snapshot`);
        } else {
          const { Images = [] } = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
          assert.deepEqual(Images.filter((i) => i.State !== "deregistered").map((i) => [i.ImageId, i.Name]), [[outputs.imageId, "golden-mcs"]], "one AMI: the Image's");
          assert.equal(outputs.masterImagePath, `XDHyp:\\HostingUnits\\unit-1\\golden-mcs (${outputs.imageId}).ami`);
        }
        await project.ok(["preview", "--expect-no-changes"]);
        await project.ok(["destroy", "--yes"]);
        assert.deepEqual(fs.readdirSync(path.join(images.dir, "staging")), []);
        assert.deepEqual(fs.readdirSync(path.join(images.dir, "store")), []);
        assert.deepEqual(fs.readdirSync(path.join(images.dir, "source")), [c.sourceDisk]);
        if (cloud === "azure" && c.workflow.endsWith("ToMcs")) {
          assert.equal(arm.disk("golden-mcs"), undefined, "the managed disk is gone");
          assert.equal(arm.snapshots.size, 0, "the snapshot is gone");
        } else if (!c.workflow.endsWith("ToPvs")) {
          const { Images = [] } = await moto.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
          assert.ok(!Images.some((i) => i.ImageId === outputs.imageId), "the AMI is gone");
        }
      } finally {
        project.dispose();
        await images.remove();
      }
    });
  }
});
