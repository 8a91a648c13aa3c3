// A GCP upload cancelled while GCE is still making the image: the job ends cancelled and
// neither the image nor the archive object is left behind.

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { GCP_BUCKET, GCP_CREDENTIAL_ID, GcpWorld, startGcpWorld } from "../helpers/gcp-world";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("upload to GCP: cancel", function () {
  this.timeout(120_000);
  let gcp: GcpWorld;

  before(async () => {
    gcp = await startGcpWorld();
  });
  after(async () => {
    await gcp?.close();
  });

  it("a cancel while the image is being made removes the image and the object", async () => {
    const { world, gcs, gce } = gcp;
    await makeSparseDisk({ path: join(world.inputDir, "db.raw"), format: "raw", virtualSize: 32 * MIB, dataBytes: 4 * MIB, seed: "gcp-cancel", chunk: MIB });
    const res = await world.submit("upload", {
      platform: "gcp",
      platformCredentialId: GCP_CREDENTIAL_ID,
      bucket: GCP_BUCKET,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "db.raw",
      targetImageName: "db-cancelled",
    });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    // The fake moves the operation one state per poll; the driver backs off between polls.
    await eventually("the image to be inserted", 30_000, () => gce.images.has("db-cancelled") || undefined);
    assert.ok((await gcs.listObjects(GCP_BUCKET)).length === 1, "the archive object was uploaded");
    const cancel = await world.engine.api("DELETE", `/ips/jobs/${res.json.id}`);
    assert.equal(cancel.status, 202, cancel.text);
    const job = await world.wait(res.json.id);
    assert.equal(job.status, "cancelled");
    assert.ok(!gce.images.has("db-cancelled"), "the half-made image is deleted");
    assert.deepEqual(await gcs.listObjects(GCP_BUCKET), [], "the archive object is deleted");
    assert.ok(!job.warnings.some((w) => w.code === "CLOUD_CLEANUP_FAILED"), JSON.stringify(job.warnings));
  });
});
