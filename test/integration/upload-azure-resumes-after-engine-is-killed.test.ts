// An Azure upload interrupted by SIGKILL of the engine mid-upload: after the restart the job
// runs again, finds the disk its first attempt left (tagged with its job id) in ActiveUpload,
// revokes and deletes it, and uploads a whole new disk under the same name.

import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { ArmFake, startArmFake } from "../fakes/azure-arm-fake";
import { Azurite, startAzurite } from "../helpers/azurite";
import { AZURE_SECRET, ENV, LOCATION, rawContent, RESOURCE_GROUP, sha256, SUBSCRIPTION_ID } from "../helpers/azure-world";
import { makeSparseDisk } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("an Azure upload interrupted by SIGKILL of the engine", function () {
  this.timeout(180_000);
  let root: string;
  let azurite: Azurite | undefined;
  let arm: ArmFake | undefined;
  let engine: EngineProcess | undefined;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "imageport-azure-crash-"));
    azurite = await startAzurite();
    arm = await startArmFake({ azurite, ...AZURE_SECRET, subscriptionId: SUBSCRIPTION_ID, resourceGroups: { [RESOURCE_GROUP]: LOCATION } });
  });
  after(async () => {
    await engine?.stop();
    await arm?.stop();
    await azurite?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("runs again after the restart, replaces its half-made disk and ends complete", async () => {
    const dataDir = join(root, "data");
    const input = join(root, "in");
    for (const d of [dataDir, input]) mkdirSync(d);
    await makeSparseDisk({ path: join(input, "full.raw"), format: "raw", virtualSize: 32 * MIB, dataBytes: 32 * MIB, seed: "azure-crash", chunk: MIB });
    const settings = { [ENV.authority]: arm!.url, [ENV.arm]: arm!.url };

    arm!.pageDelayMs = 1000;
    engine = await EngineProcess.start(dataDir, settings);
    await engine.client().credentials.create("azure", { type: "Azure", ...AZURE_SECRET });
    const id = (
      (await engine.client().jobs.start("upload", {
        platform: "azure",
        region: LOCATION,
        subscriptionId: SUBSCRIPTION_ID,
        resourceGroup: RESOURCE_GROUP,
        platformCredentialId: "azure",
        inputStorageLocation: { location: pathToFileURL(input).href + "/" },
        inputImageFilename: "full.raw",
        targetDiskName: "crash-os",
      })) as Job
    ).id;
    const first = await eventually("the first pages to be sent", 30_000, () => ((arm!.disk("crash-os")?.puts.length ?? 0) >= 1 ? arm!.disk("crash-os") : undefined));
    await engine.crash();
    assert.equal(first.diskState, "ActiveUpload", "the crash left the disk mid-upload");

    arm!.pageDelayMs = 0;
    engine = await EngineProcess.start(dataDir, settings);
    const result = await waitForJob(engine.client().jobs, id, { maxWaitMs: 120_000, minDelayMs: 200, maxDelayMs: 1000 });
    const job = result.last!;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.equal(job.attempt, 2);

    const second = arm!.disk("crash-os")!;
    assert.notEqual(second.container, first.container, "a new disk, not the half-written one");
    assert.equal(second.diskState, "Unattached");
    assert.equal(arm!.disks.size, 1, "the first attempt's disk is gone");
    assert.equal(await azurite!.service.getContainerClient(first.container).exists(), false, "with its page blob");
    const blob = await azurite!.service.getContainerClient(second.container).getPageBlobClient(second.blob).downloadToBuffer();
    const oracle = rawContent(join(input, "full.raw"), "raw", root);
    assert.equal(sha256(blob.subarray(0, 32 * MIB)), oracle.sha256, "the new disk holds the whole content");
    assert.equal((job.additionalInfo.artifacts as any).blockDigest, oracle.blockDigest);
    const calls = arm!.requests.filter((r) => r.path.endsWith("/disks/crash-os") || r.path.endsWith("/endGetAccess")).map((r) => `${r.method} ${r.status}`);
    assert.ok(calls.join(",").includes("POST 202,DELETE 202"), `revoked and deleted before being made again: ${calls.join(", ")}`);
  });
});
