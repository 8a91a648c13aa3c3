// A cancelled $upload to Azure stops its Put Page requests, revokes the write SAS and deletes
// the half-made managed disk (and so its page blob in Azurite).

import * as assert from "node:assert/strict";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { AzureWorld, containerExists, startAzureWorld } from "../helpers/azure-world";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("upload to Azure: cancel deletes the half-made disk", function () {
  this.timeout(120_000);
  let az: AzureWorld;

  before(async () => {
    az = await startAzureWorld();
  });
  after(async () => {
    await az?.close();
  });

  it("a cancel during the page upload stops the puts and leaves no disk and no blob", async () => {
    const { world, arm } = az;
    // Every sector holds data: 16 puts of 4 MiB, slowed down so the cancel lands in the middle.
    await makeSparseDisk({ path: join(world.inputDir, "full.raw"), format: "raw", virtualSize: 64 * MIB, dataBytes: 64 * MIB, seed: "azure-cancel", chunk: MIB });
    arm.pageDelayMs = 400;
    try {
      const res = await world.submit("upload", {
        ...az.target,
        inputStorageLocation: { location: world.fileLocation(world.inputDir) },
        inputImageFilename: "full.raw",
        targetDiskName: "half-made",
      });
      assert.equal(res.status, 202, JSON.stringify(res.json));
      const disk = await eventually("the first pages to be sent", 30_000, () => ((arm.disk("half-made")?.puts.length ?? 0) >= 4 ? arm.disk("half-made") : undefined));
      assert.equal(disk.diskState, "ActiveUpload");
      const cancel = await world.engine.api("DELETE", `/ips/jobs/${res.json.id}`);
      assert.equal(cancel.status, 202, cancel.text);
      const job = await world.wait(res.json.id);
      assert.equal(job.status, "cancelled");
      assert.deepEqual(job.warnings.map((w) => w.code), [], "the cleanup succeeded");
      const sentAtEnd = disk.puts.length;
      assert.ok(sentAtEnd < 17, `the upload stopped early (${sentAtEnd} of 17 puts)`);
      await new Promise((r) => setTimeout(r, 800));
      assert.equal(disk.puts.length, sentAtEnd, "no page is sent after the job ended");

      assert.equal(arm.disk("half-made"), undefined, "the disk was deleted");
      assert.equal(await containerExists(az, disk.container), false, "its page blob is gone from Azurite");
      const calls = arm.requests.filter((r) => r.path.includes("/disks/half-made")).map((r) => `${r.method} ${r.path.replace(/.*\/disks\//, "")} ${r.status}`);
      assert.deepEqual(calls.slice(-3), ["GET half-made 200", "POST half-made/endGetAccess 202", "DELETE half-made 202"], "found ActiveUpload, revoked, then deleted");
    } finally {
      arm.pageDelayMs = 0;
    }
  });
});
