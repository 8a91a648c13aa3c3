// $upload to GCP against a real fake-gcs-server and the strict Compute fake: the disk reaches
// GCS as a gzip'd sparse tar holding only disk.raw (grown to whole GiB) in which only its data
// ranges are stored, and a GCE image is created from that object (rawDisk, TAR) once its operation is DONE.

import * as assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { makeSparseDisk } from "../helpers/disks";
import { GCP_BUCKET, GCP_CREDENTIAL_ID, GCP_PROJECT, GcpWorld, GIB, paddedRawOracle, startGcpWorld, untarArchive } from "../helpers/gcp-world";

const MIB = 1024 * 1024;

describe("upload to GCP: a sparse disk.raw tar.gz in GCS, and an image made from it", function () {
  this.timeout(180_000);
  let gcp: GcpWorld;

  before(async () => {
    gcp = await startGcpWorld();
  });
  after(async () => {
    await gcp?.close();
  });

  it("a sparse 64 MiB VHDX on a share becomes a 1 GiB disk.raw holding exactly its data, and a READY image", async () => {
    const { world, gcs, gce } = gcp;
    const disk = join(world.inputDir, "web01.vhdx");
    // 3 MiB in 64 KiB pieces spread over 64 MiB: VHDX maps whole blocks, most of them zeros.
    await makeSparseDisk({ path: disk, format: "vhdx", virtualSize: 64 * MIB, dataBytes: 3 * MIB, seed: "gcp-upload" });
    copyFileSync(disk, join(world.shareDir, "web01.vhdx"));
    const oracle = paddedRawOracle(disk, "vhdx", world.root);

    const started = Date.now();
    const job = await world.run("upload", {
      platform: "gcp",
      platformCredentialId: GCP_CREDENTIAL_ID,
      bucket: GCP_BUCKET,
      region: "us-central1",
      inputStorageLocation: { location: world.smbLocation(), credentialId: "smb" },
      inputImageFilename: "web01.vhdx",
      targetSnapshotName: "web01 golden",
      targetImageName: "web01-golden-v1",
      tags: { team: "vdi" },
    });
    const elapsedMs = Date.now() - started;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.deepEqual(job.steps.map((s) => [s.name, s.status]), [
      ["validate", "complete"],
      ["fetch", "complete"],
      ["upload", "complete"],
      ["register", "complete"],
    ]);
    const a = job.additionalInfo.artifacts as any;
    const objectName = `imageport/${job.id}/disk.raw.tar.gz`;

    assert.equal(a.platform, "gcp");
    assert.equal(a.project, GCP_PROJECT, "the project defaults to the key's project_id");
    assert.equal(a.region, "us-central1");
    assert.equal(a.imageName, "web01-golden-v1");
    assert.equal(a.targetId, `projects/${GCP_PROJECT}/global/images/web01-golden-v1`);
    assert.equal(a.bucket, GCP_BUCKET);
    assert.equal(a.objectName, objectName);
    assert.equal(a.virtualSizeBytes, 64 * MIB);
    assert.equal(a.rawSizeBytes, GIB);
    assert.equal(a.diskSizeGb, 1);
    assert.equal(a.blockDigest, oracle.blockDigest, "the block digest is that of qemu-img's raw conversion");
    assert.equal(a.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    // The data spreads over every VHDX block, so the source reports the whole disk as data and
    // all of it is stored, the zeros inside the blocks included (the data is read once; gzip
    // makes little of those zeros, see the archive's size below).
    assert.equal(a.dataBytes, 64 * MIB, "the source's data ranges are stored as reported");
    assert.deepEqual(a.cloudResources, [
      { kind: "image", id: "web01-golden-v1", project: GCP_PROJECT },
      { kind: "object", id: objectName, bucket: GCP_BUCKET },
    ]);

    // The object in fake-gcs-server: GNU tar extracts exactly disk.raw, 1 GiB, equal to the padded content.
    const archive = (await gcs.readObject(GCP_BUCKET, objectName))!;
    assert.ok(archive, "the archive object exists");
    assert.equal(a.sizeBytes, archive.length);
    const tarBytes = gunzipSync(archive).length;
    // Header + the stored data (512-padded) + the end blocks: nothing else went into the stream.
    assert.ok(tarBytes <= 512 * 4 + Math.ceil(a.dataBytes / 512) * 512 + 1024, `the tar holds only the data (${tarBytes} bytes)`);
    assert.ok(archive.length < oracle.dataPieces * 64 * 1024 + MIB, `the stored zeros compress to little (${archive.length} bytes)`);
    const out = untarArchive(archive, world.root);
    assert.deepEqual(out.members, ["disk.raw"]);
    assert.equal(out.size, GIB);
    assert.equal(out.sha256, oracle.paddedSha256, "the extracted disk.raw is the source's raw content padded to 1 GiB");
    assert.ok(out.allocatedBytes < a.dataBytes + 16 * MIB, `disk.raw extracts sparse: the padding to 1 GiB is a hole (${out.allocatedBytes} bytes allocated)`);

    // The image, as the fake Compute holds it, made from that object after checking it.
    const image = gce.images.get("web01-golden-v1")!;
    assert.equal(image.status, "READY");
    assert.deepEqual(image.rawDisk, { source: `https://storage.googleapis.com/${GCP_BUCKET}/${objectName}`, containerType: "TAR" });
    assert.deepEqual(image.storageLocations, ["us-central1"]);
    assert.equal(image.description, "web01 golden");
    assert.equal(image.labels?.team, "vdi");
    assert.ok(image.labels?.["imageport-job-id"]);
    assert.equal(image.archive?.size, GIB);
    assert.equal(image.archive?.storedBytes, a.dataBytes);
    const insert = [...gce.operations.values()].find((o) => o.operationType === "insert")!;
    assert.deepEqual(insert.seen, ["PENDING", "RUNNING", "DONE"], "the driver waited on the operation through its states");
    assert.ok(gce.calls.length > 0 && gce.calls.every((c) => c.authorized), "every Compute call carried a token the fake issued");
    assert.ok(gce.tokensIssued >= 1 && gce.tokensIssued <= 2, `tokens are reused (${gce.tokensIssued} issued)`);
    console.log(
      `      64 MiB VHDX (${oracle.dataPieces * 64} KiB data) -> ${archive.length} byte tar.gz of a 1 GiB disk.raw in ${elapsedMs} ms`,
    );
  });
});
