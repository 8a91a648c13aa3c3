// $inspect and $delete {jobId} of a complete GCP upload job, against fake-gcs-server and the
// Compute fake: inspect sees the image and the object, delete removes both (image first),
// inspect then sees them gone, and the upload's clientToken is released.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { GCP_BUCKET, GCP_CREDENTIAL_ID, GCP_PROJECT, GcpWorld, startGcpWorld } from "../helpers/gcp-world";

const MIB = 1024 * 1024;

describe("upload to GCP: $inspect and $delete by job id", function () {
  this.timeout(180_000);
  let gcp: GcpWorld;

  before(async () => {
    gcp = await startGcpWorld();
  });
  after(async () => {
    await gcp?.close();
  });

  it("inspect reports both, delete removes both, inspect then reports them gone and the token is released", async () => {
    const { world, gcs, gce } = gcp;
    await makeSparseDisk({ path: join(world.inputDir, "app.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: MIB, seed: "gcp-del" });
    const request = {
      platform: "gcp",
      platformCredentialId: GCP_CREDENTIAL_ID,
      bucket: GCP_BUCKET,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "app.qcow2",
      clientToken: "upload-gcp-app-1",
    };
    const upload = await world.run("upload", request);
    assert.equal(upload.status, "complete", JSON.stringify(upload.error));
    const { imageName, objectName } = upload.additionalInfo.artifacts as { imageName: string; objectName: string };
    assert.match(imageName, /^imageport-[a-z0-9-]+$/, "the default image name is imageport-<jobId>");
    const refs = [
      { kind: "image", id: imageName, project: GCP_PROJECT },
      { kind: "object", id: objectName, bucket: GCP_BUCKET },
    ];

    const dry = await world.submit("inspect", { jobId: upload.id }, "?dryRun=true");
    assert.equal(dry.status, 200, JSON.stringify(dry.json));
    assert.deepEqual(dry.json.parameters.cloudResources, refs);
    assert.equal(dry.json.parameters.platform, "gcp");
    assert.equal(dry.json.parameters.project, GCP_PROJECT);

    const before = await world.run("inspect", { jobId: upload.id });
    assert.equal(before.status, "complete", JSON.stringify(before.error));
    assert.deepEqual(before.additionalInfo.artifacts, {
      platform: "gcp",
      project: GCP_PROJECT,
      cloudResources: [
        { kind: "image", id: imageName, exists: true, state: "READY" },
        { kind: "object", id: objectName, exists: true, state: "STORED" },
      ],
    });
    const again = await world.submit("upload", request);
    assert.equal(again.status, 200, "everything exists: the same request re-attaches to the upload job");
    assert.equal(again.json.id, upload.id);

    const removal = await world.run("delete", { jobId: upload.id });
    assert.equal(removal.status, "complete", JSON.stringify(removal.error));
    assert.deepEqual((removal.additionalInfo.artifacts as any).cloudResources, [
      { kind: "image", id: imageName, removed: true },
      { kind: "object", id: objectName, removed: true },
    ]);
    // Gone in the fakes themselves, not only in the engine's report.
    assert.ok(!gce.images.has(imageName), "the image is deleted");
    assert.equal(await gcs.readObject(GCP_BUCKET, objectName), undefined, "the object is deleted");
    assert.ok([...gce.operations.values()].some((o) => o.operationType === "delete" && o.status === "DONE"), "the delete operation was waited on");

    const after = await world.run("inspect", { jobId: upload.id });
    assert.deepEqual((after.additionalInfo.artifacts as any).cloudResources, [
      { kind: "image", id: imageName, exists: false },
      { kind: "object", id: objectName, exists: false },
    ]);

    const twice = await world.run("delete", { jobId: upload.id });
    assert.equal(twice.status, "complete");
    assert.deepEqual(twice.warnings.map((w) => w.code), ["RESOURCE_ALREADY_GONE", "RESOURCE_ALREADY_GONE"]);

    // The delete released the token: the same request starts a new upload, with a new image.
    const fresh = await world.submit("upload", request);
    assert.equal(fresh.status, 202, JSON.stringify(fresh.json));
    const second = await world.wait(fresh.json.id);
    assert.equal(second.status, "complete", JSON.stringify(second.error));
    assert.notEqual((second.additionalInfo.artifacts as any).imageName, imageName);
  });
});
