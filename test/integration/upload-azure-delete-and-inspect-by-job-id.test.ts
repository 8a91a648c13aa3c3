// $inspect and $delete {jobId} of a complete Azure upload job, against the ARM fake and Azurite:
// inspect sees the disk and the image, delete removes both (image first), inspect then sees
// them gone, and the upload job's clientToken is released so its request starts a new upload.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { AZURE_CREDENTIAL_ID, AzureWorld, containerExists, LOCATION, startAzureWorld } from "../helpers/azure-world";

const MIB = 1024 * 1024;

describe("upload to Azure: $inspect and $delete by job id", function () {
  this.timeout(180_000);
  let az: AzureWorld;

  before(async () => {
    az = await startAzureWorld();
  });
  after(async () => {
    await az?.close();
  });

  it("inspect reports both, delete removes both, inspect then reports them gone and the token is released", async () => {
    const { world, arm } = az;
    await makeSparseDisk({ path: join(world.inputDir, "app.vhdx"), format: "vhdx", virtualSize: 24 * MIB, dataBytes: MIB, seed: "azure-del" });
    const request = {
      ...az.target,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "app.vhdx",
      targetDiskName: "app-os",
      createImage: true,
      clientToken: "upload-app-azure-1",
    };
    const upload = await world.run("upload", request);
    assert.equal(upload.status, "complete", JSON.stringify(upload.error));
    const { diskId, imageId } = upload.additionalInfo.artifacts as { diskId: string; imageId: string };
    const container = arm.disk("app-os")!.container;

    const dry = await world.submit("inspect", { jobId: upload.id }, "?dryRun=true");
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.equal(dry.json.parameters.platform, "azure");
    assert.deepEqual(dry.json.parameters.cloudResources, [
      { kind: "disk", id: diskId },
      { kind: "image", id: imageId },
    ]);
    assert.equal(dry.json.parameters.platformCredentialId, AZURE_CREDENTIAL_ID);

    const before = await world.run("inspect", { jobId: upload.id });
    assert.equal(before.status, "complete", JSON.stringify(before.error));
    assert.deepEqual(before.additionalInfo.artifacts, {
      platform: "azure",
      region: LOCATION,
      cloudResources: [
        { kind: "disk", id: diskId, exists: true, state: "Unattached" },
        { kind: "image", id: imageId, exists: true, state: "Succeeded" },
      ],
    });
    const again = await world.submit("upload", request);
    assert.equal(again.status, 200, "everything exists: the same request re-attaches to the upload job");
    assert.equal(again.json.id, upload.id);

    const removal = await world.run("delete", { jobId: upload.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual(removal.additionalInfo.artifacts, {
      platform: "azure",
      region: LOCATION,
      cloudResources: [
        { kind: "image", id: imageId, removed: true },
        { kind: "disk", id: diskId, removed: true },
      ],
    });
    // Gone in "Azure" itself, not only in the engine's report.
    assert.equal(arm.disks.size + arm.images.size, 0, "no disk or image is left in the fake ARM");
    assert.equal(await containerExists(az, container), false, "the disk's page blob is gone from Azurite");

    const after = await world.run("inspect", { jobId: upload.id });
    assert.equal(after.status, "complete", JSON.stringify(after.error));
    assert.deepEqual((after.additionalInfo.artifacts as any).cloudResources, [
      { kind: "disk", id: diskId, exists: false },
      { kind: "image", id: imageId, exists: false },
    ]);

    const twice = await world.run("delete", { jobId: upload.id });
    assert.equal(twice.status, "complete");
    assert.deepEqual((twice.additionalInfo.artifacts as any).cloudResources.map((r: any) => r.removed), [false, false]);
    assert.deepEqual(twice.warnings.map((w) => w.code), ["RESOURCE_ALREADY_GONE", "RESOURCE_ALREADY_GONE"]);

    // The delete released the token: the same request starts a new upload (the names are free again).
    const fresh = await world.submit("upload", request);
    assert.equal(fresh.status, 202, JSON.stringify(fresh.json));
    assert.notEqual(fresh.json.id, upload.id);
    const second = await world.wait(fresh.json.id);
    assert.equal(second.status, "complete", JSON.stringify(second.error));
    assert.equal(arm.disk("app-os")?.tags["imageport-jobId"], fresh.json.id);
  });
});
