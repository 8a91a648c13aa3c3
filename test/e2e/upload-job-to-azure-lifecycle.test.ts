import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { startArmFake, ArmFake } from "../fakes/azure-arm-fake";
import { AZURE_SECRET, LOCATION, RESOURCE_GROUP, SUBSCRIPTION_ID, rawContent, sha256, blobContent } from "../helpers/azure-world";
import { Azurite, startAzurite } from "../helpers/azurite";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/upload-job");

/** A disk to an Azure managed disk and image with `pulumi up`: Azurite for the blob, the strict ARM fake for the rest. */
describe("UploadJob on Azure: a managed disk and image, refreshed, then removed by destroy", function () {
  this.timeout(600_000);
  let azurite: Azurite;
  let arm: ArmFake;
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };
  let disk: string;

  before(async () => {
    images = await tempDir("upload-azure-e2e-");
    fs.mkdirSync(path.join(images.dir, "exports"));
    disk = path.join(images.dir, "exports/golden.vhdx");
    await makeSparseDisk({ path: disk, format: "vhdx", virtualSize: 24 << 20, dataBytes: 1 << 20, seed: "azure-e2e" });
    azurite = await startAzurite();
    arm = await startArmFake({ azurite, ...AZURE_SECRET, subscriptionId: SUBSCRIPTION_ID, resourceGroups: { [RESOURCE_GROUP]: LOCATION } });
    engine = await EngineProcess.start(undefined, { IMAGEPORT_AZURE_AUTHORITY_HOST: arm.url, IMAGEPORT_AZURE_ARM_ENDPOINT: arm.url });
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "upload:platform": { value: "azure" },
      "upload:tenantId": { value: AZURE_SECRET.tenantId },
      "upload:clientId": { value: AZURE_SECRET.clientId },
      "upload:clientSecret": { value: AZURE_SECRET.clientSecret, secret: true },
      "upload:region": { value: LOCATION },
      "upload:subscriptionId": { value: SUBSCRIPTION_ID },
      "upload:resourceGroup": { value: RESOURCE_GROUP },
      "upload:inputLocation": { value: `file://${images.dir}/exports/` },
      "upload:inputImageFilename": { value: "golden.vhdx" },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await arm?.stop();
    await azurite?.stop();
    await images?.remove();
  });

  it("up uploads the disk's content into a managed disk and makes an image from it", async () => {
    await project.ok(["up", "--yes"]);
    const outputs = await project.outputs();
    const fakeDisk = [...arm.disks.values()].find((d) => String(outputs.diskId).endsWith(`/disks/${d.name}`));
    assert.ok(fakeDisk, `the managed disk ${outputs.diskId} exists`);
    assert.equal(fakeDisk.diskState, "Unattached");
    const expected = rawContent(disk, "vhdx", images.dir);
    assert.equal(outputs.blockDigest, expected.blockDigest);
    const blob = await blobContent({ azurite, arm } as never, fakeDisk);
    assert.equal(sha256(blob.subarray(0, expected.bytes.length)), expected.sha256, "the page blob holds the disk");
    assert.equal(outputs.targetId, outputs.imageId, "the image is what MCS gets");
    assert.ok([...arm.images.values()].some((i) => String(outputs.imageId).endsWith(`/images/${i.name}`)));
  });

  it("previews and refreshes without changes", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("destroy removes the image and the disk, and the source stays", async () => {
    await project.ok(["destroy", "--yes"]);
    assert.equal(arm.disks.size, 0, "no managed disk left");
    assert.equal(arm.images.size, 0, "no image left");
    assert.ok(fs.existsSync(disk));
  });
});
