// $createImage on Azure (Azurite + the ARM fake): a full snapshot copied from the managed disk an
// upload left, in the disk's resource group and location, holding the source disk's content.
// $inspect / $delete {jobId} act on the snapshot alone; the upload's disk stays. A disk that does
// not exist, a taken name and a malformed diskId fail naming the field.

import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { AZURE_CREDENTIAL_ID, AzureWorld, LOCATION, RESOURCE_GROUP, rawContent, startAzureWorld, SUBSCRIPTION_ID } from "../helpers/azure-world";

const MIB = 1024 * 1024;

describe("$createImage on Azure: a snapshot of an uploaded managed disk", function () {
  this.timeout(180_000);
  let azure: AzureWorld;
  let diskId: string;
  let diskSizeBytes: number;
  let expectedSha: string;
  const image = (extra: object = {}) => ({ platform: "azure", platformCredentialId: AZURE_CREDENTIAL_ID, imageName: "golden-snap", ...extra });

  before(async () => {
    azure = await startAzureWorld();
    const { world } = azure;
    const source = join(world.inputDir, "golden.vhdx");
    await makeSparseDisk({ path: source, format: "vhdx", virtualSize: 24 * MIB, dataBytes: 2 * MIB, seed: "az-snap" });
    const upload = await world.run("upload", { ...azure.target, inputStorageLocation: { location: world.fileLocation(world.inputDir) }, inputImageFilename: "golden.vhdx", targetDiskName: "golden-disk" });
    assert.equal(upload.status, "complete", JSON.stringify(upload.error));
    ({ diskId, diskSizeBytes } = upload.additionalInfo.artifacts as { diskId: string; diskSizeBytes: number });
    // The disk's content as qemu-img reads the source, zero-padded to the managed disk's size.
    const { bytes } = rawContent(source, "vhdx", world.root);
    expectedSha = createHash("sha256").update(Buffer.concat([bytes, Buffer.alloc(diskSizeBytes - bytes.length)])).digest("hex");
  });
  after(async () => {
    await azure?.close();
  });

  it("copies the disk into a full snapshot beside it, holding the source's content, and records it", async () => {
    const { world, arm } = azure;
    const job = await world.run("createImage", image({ diskId, tags: { team: "vdi" } }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const id = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Compute/snapshots/golden-snap`;
    assert.deepEqual(job.additionalInfo.artifacts, {
      platform: "azure",
      region: LOCATION,
      imageId: id,
      imageName: "golden-snap",
      sourceId: diskId,
      subscriptionId: SUBSCRIPTION_ID,
      resourceGroup: RESOURCE_GROUP,
      cloudResources: [{ kind: "snapshot", id, region: LOCATION }],
    });
    const snapshot = arm.snapshots.get(id.toLowerCase());
    assert.ok(snapshot, "the snapshot exists in the fake");
    assert.equal(snapshot.provisioningState, "Succeeded");
    assert.equal(snapshot.sourceDiskId, diskId);
    assert.equal(snapshot.incremental, false);
    assert.equal(snapshot.location, LOCATION);
    assert.equal(snapshot.diskSizeBytes, diskSizeBytes);
    assert.equal(snapshot.sha256, expectedSha);
    assert.deepEqual(snapshot.tags, { team: "vdi", "imageport-jobId": job.id });

    const twice = await world.run("createImage", image({ diskId }));
    assert.equal(twice.status, "failed");
    assert.equal(twice.error?.code, "OUTPUT_EXISTS");
    assert.match(twice.error!.message, /snapshots\/golden-snap already exists\. Choose another imageName/);
  });

  it("inspect and delete by job id act on the snapshot alone; the upload's disk stays", async () => {
    const { world, arm } = azure;
    const job = await world.run("createImage", image({ diskId, imageName: "to-delete" }));
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const id = (job.additionalInfo.artifacts as { imageId: string }).imageId;
    const inspected = await world.run("inspect", { jobId: job.id });
    assert.deepEqual((inspected.additionalInfo.artifacts as any).cloudResources, [{ kind: "snapshot", id, exists: true, state: "Succeeded" }]);

    const removal = await world.run("delete", { jobId: job.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual((removal.additionalInfo.artifacts as any).cloudResources, [{ kind: "snapshot", id, removed: true }]);
    assert.equal(arm.snapshots.get(id.toLowerCase()), undefined, "the snapshot is gone");
    assert.equal(arm.disk("golden-disk")?.diskState, "Unattached", "the upload's disk stays");

    const after = await world.run("inspect", { jobId: job.id });
    assert.deepEqual((after.additionalInfo.artifacts as any).cloudResources, [{ kind: "snapshot", id, exists: false }]);
  });

  it("a disk that does not exist fails with PLATFORM_NOT_FOUND naming diskId, and creates nothing", async () => {
    const { world, arm } = azure;
    const before = arm.snapshots.size;
    const missing = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Compute/disks/no-such-disk`;
    const job = await world.run("createImage", image({ diskId: missing, imageName: "never" }));
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_NOT_FOUND");
    assert.match(job.error!.message, /no-such-disk does not exist \(field diskId\)/);
    assert.equal(arm.snapshots.size, before);
  });

  it("bad input is a 400 naming each field: a malformed diskId, an aws field, a bad name", async () => {
    const res = await azure.world.submit("createImage", image({ diskId: "golden-disk", region: "us-east-1", imageName: "-bad-" }));
    assert.equal(res.status, 400, JSON.stringify(res.json));
    assert.equal(res.json.error.code, "VALIDATION_FAILED");
    const fields = Object.fromEntries(res.json.error.fields.map((e: any) => [e.field, e.message]));
    assert.match(fields.diskId, /must be a managed disk's ARM id/);
    assert.match(fields.region, /applies to platform aws only/);
    assert.match(fields.imageName, /must be an Azure snapshot name/);
  });
});
