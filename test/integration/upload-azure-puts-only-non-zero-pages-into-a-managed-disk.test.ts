// $upload to Azure against the strict ARM fake and a real Azurite: the disk becomes a fixed
// VHD whose non-zero 512-byte runs (and only those, at most 4 MiB each) are Put Page'd into
// the managed disk's page blob; the disk ends Unattached and an image is made from it.

import * as assert from "node:assert/strict";
import { copyFileSync, promises as fs, readFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { makeSparseDisk } from "../helpers/disks";
import { AZURE_SECRET, AzureWorld, blobContent, expectedPuts, LOCATION, rawContent, RESOURCE_GROUP, sha256, startAzureWorld, SUBSCRIPTION_ID } from "../helpers/azure-world";

const MIB = 1024 * 1024;

describe("upload to Azure: only non-zero pages reach the managed disk, and an image is made", function () {
  this.timeout(180_000);
  let az: AzureWorld;

  before(async () => {
    az = await startAzureWorld();
  });
  after(async () => {
    await az?.close();
  });

  it("a sparse 64 MiB VHDX on a share becomes an Unattached managed disk holding exactly its content, and an image on it", async () => {
    const { world, arm } = az;
    // 3 MiB in 64 KiB pieces spread over 64 MiB, plus a 6 MiB run of data crossing a 4 MiB boundary.
    const raw = join(world.root, "web01.raw");
    await makeSparseDisk({ path: raw, format: "raw", virtualSize: 64 * MIB, dataBytes: 3 * MIB, seed: "azure-upload" });
    const fh = await fs.open(raw, "r+");
    await fh.write(Buffer.alloc(6 * MIB, 0x5a), 0, 6 * MIB, 38 * MIB);
    await fh.close();
    const disk = join(world.inputDir, "web01.vhdx");
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "vhdx", raw, disk]);
    copyFileSync(disk, join(world.shareDir, "web01.vhdx"));
    const oracle = rawContent(disk, "vhdx", world.root);

    const started = Date.now();
    const job = await world.run("upload", {
      ...az.target,
      inputStorageLocation: { location: world.smbLocation(), credentialId: "smb" },
      inputImageFilename: "web01.vhdx",
      targetDiskName: "web01-os",
      createImage: true,
      imageName: "web01-golden",
      hyperVGeneration: "V2",
      tags: { team: "vdi" },
      hashDisk: true,
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
    const rg = `/subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${RESOURCE_GROUP}/providers/Microsoft.Compute`;
    assert.equal(a.platform, "azure");
    assert.equal(a.region, LOCATION);
    assert.equal(a.diskId, `${rg}/disks/web01-os`);
    assert.equal(a.imageId, `${rg}/images/web01-golden`);
    assert.equal(a.targetId, a.imageId);
    assert.equal(a.virtualSizeBytes, 64 * MIB);
    assert.equal(a.diskSizeBytes, 64 * MIB);
    assert.equal(a.uploadSizeBytes, 64 * MIB + 512);
    assert.equal(a.sha256, oracle.sha256, "with hashDisk, the content hash is that of qemu-img's raw conversion");
    assert.equal(a.blockDigest, oracle.blockDigest, "the block digest is that of the raw content");
    assert.deepEqual(a.cloudResources, [
      { kind: "disk", id: a.diskId, region: LOCATION },
      { kind: "image", id: a.imageId, region: LOCATION },
    ]);

    // The disk, as the fake ARM holds it: uploaded and released, tagged.
    const held = arm.disk("web01-os")!;
    assert.equal(held.diskState, "Unattached");
    assert.equal(held.uploadSizeBytes, 64 * MIB + 512);
    assert.equal(held.hyperVGeneration, "V2");
    assert.equal(held.osType, "Windows");
    assert.equal(held.tags.team, "vdi");
    assert.equal(held.tags["imageport-jobId"], job.id);
    assert.equal(held.activeSig, undefined, "the write SAS was revoked");

    // The page blob, read back from Azurite: the data part is the disk, the last 512 bytes a fixed-VHD footer.
    const blob = await blobContent(az, held);
    assert.equal(blob.length, 64 * MIB + 512);
    assert.equal(sha256(blob.subarray(0, 64 * MIB)), oracle.sha256, "the page blob's data part is the source's raw content");
    const footer = blob.subarray(64 * MIB);
    assert.equal(footer.subarray(0, 8).toString("latin1"), "conectix");
    assert.equal(footer.readUInt32BE(60), 2, "disk type: fixed");
    assert.equal(Number(footer.readBigUInt64BE(48)), 64 * MIB, "current size: the data part");

    // What was sent: the non-zero 512-byte runs, none longer than 4 MiB, nothing else.
    const want = expectedPuts(Buffer.concat([oracle.bytes, footer]));
    assert.deepEqual(held.puts.slice().sort((x, y) => x.offset - y.offset), want, "one Put Page per non-zero run, cut at 4 MiB");
    assert.ok(held.puts.every((p) => p.length <= 4 * MIB && p.offset % 512 === 0 && p.length % 512 === 0));
    assert.ok(held.puts.some((p) => p.length === 4 * MIB), "the 6 MiB run went in a 4 MiB page and a shorter one");
    assert.deepEqual(arm.refusedPuts, []);
    const sent = held.puts.reduce((n, p) => n + p.length, 0);
    assert.equal(a.sizeBytes, sent);
    assert.equal(a.pageRangesWritten, held.puts.length);
    assert.ok(sent < 10 * MIB, `zero ranges were not sent (${sent} bytes of ${64 * MIB})`);
    console.log(`      ${held.puts.length} Put Page (${sent} bytes) for a 64 MiB VHDX over SMB in ${elapsedMs} ms`);

    // Neither the client secret nor the write SAS is in the job or the engine log.
    const log = readFileSync(join(world.engine.dataDir, "logs", "imageportd.log"), "utf8");
    for (const text of [JSON.stringify(job), log]) {
      assert.ok(!text.includes(AZURE_SECRET.clientSecret), "no client secret");
      assert.ok(!/sig=/i.test(text), "no SAS signature");
    }

    // The image: from the disk, generalized.
    const image = arm.images.get(a.imageId.toLowerCase())!;
    assert.equal(image.provisioningState, "Succeeded");
    assert.equal(image.sourceDiskId, a.diskId);
    assert.equal(image.osState, "Generalized");
    assert.equal(image.hyperVGeneration, "V2");

    // The ARM calls, in order (the async-operation polls left out).
    const calls = arm.requests.filter((r) => !r.path.includes("/operations/") && !r.path.endsWith("/token")).map((r) => `${r.method} ${r.path.replace(rg, "")} ${r.status}`);
    assert.deepEqual(calls, [
      `GET /subscriptions/${SUBSCRIPTION_ID}/resourceGroups/${RESOURCE_GROUP} 200`,
      "GET /disks/web01-os 404",
      "GET /images/web01-golden 404",
      "PUT /disks/web01-os 201",
      "GET /disks/web01-os/beginGetAccess 202".replace("GET", "POST"),
      "POST /disks/web01-os/endGetAccess 202",
      "GET /disks/web01-os 200",
      "PUT /images/web01-golden 201",
    ]);
  });

  it("a small disk not a whole MiB becomes a 20 MiB + 512 upload, with no image by default", async () => {
    const { world, arm } = az;
    const disk = join(world.inputDir, "tiny.qcow2");
    await makeSparseDisk({ path: join(world.root, "tiny.raw"), format: "raw", virtualSize: 3 * MIB + 1536, dataBytes: 256 * 1024, seed: "azure-tiny" });
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", join(world.root, "tiny.raw"), disk]);
    const oracle = rawContent(disk, "qcow2", world.root);
    const job = await world.run("upload", { ...az.target, inputStorageLocation: { location: world.fileLocation(world.inputDir) }, inputImageFilename: "tiny.qcow2" });
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    const a = job.additionalInfo.artifacts as any;
    assert.equal(a.virtualSizeBytes, 3 * MIB + 1536);
    assert.equal(a.diskSizeBytes, 20 * MIB, "Azure's smallest upload disk");
    assert.equal(a.uploadSizeBytes, 20 * MIB + 512);
    assert.equal(a.blockDigest, oracle.blockDigest);
    assert.equal(a.sha256, undefined, "no full-content hash unless hashDisk asks for it");
    assert.equal(a.diskName, `imageport-${job.id}`);
    assert.equal(a.imageId, undefined);
    assert.equal(a.targetId, a.diskId);
    assert.deepEqual(a.cloudResources.map((r: any) => r.kind), ["disk"]);
    const held = arm.disk(a.diskName)!;
    const blob = await blobContent(az, held);
    assert.equal(sha256(blob.subarray(0, oracle.bytes.length)), oracle.sha256);
    assert.ok(blob.subarray(oracle.bytes.length, 20 * MIB).every((b) => b === 0), "the padding reads as zeros");
  });
});
