// The snapshot a vSphere export takes never outlives the job: cancelled mid-read, it is removed;
// after SIGKILL of the engine mid-read, the job runs again on restart, removes the snapshot its
// first attempt left (named after the job), takes a fresh one and completes.

import * as assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { qemuCompare } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { GuestDisk, makeGuestDisk } from "../helpers/guest-disk";
import { eventually } from "../helpers/processes";
import { startVcsim, Vcsim } from "../helpers/vcsim";

const MIB = 1024 * 1024;
const VM = "DC0_H0_VM0";

describe("a vSphere export's snapshot never outlives the job", function () {
  this.timeout(180_000);
  let root: string;
  let vcsim: Vcsim;
  let guest: GuestDisk;
  let engine: EngineProcess | undefined;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "imageport-vsphere-crash-"));
    vcsim = await startVcsim();
    guest = await makeGuestDisk(root, { sizeBytes: 64 * MIB, seed: 23, files: 24 });
    await vcsim.seedDisk(VM, guest.path, "raw");
  });
  afterEach(async () => {
    await engine?.stop();
    engine = undefined;
    await vcsim.setFolderDelay(0);
  });
  after(async () => {
    await vcsim?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  async function startExport(dataDir: string | undefined, output: string): Promise<string> {
    engine = await EngineProcess.start(dataDir);
    await engine.client().credentials.create("vc", { type: "UsernamePassword", username: "admin", password: "pw" });
    const job = (await engine.client().jobs.start("export", {
      vsphereHost: vcsim.host,
      vspherePort: vcsim.port,
      vsphereCredentialId: "vc",
      vsphereSslFingerprint: vcsim.sha256Fingerprint,
      sourceVmName: VM,
      outputStorageLocation: { location: pathToFileURL(output).href + "/" },
      outputImageFilename: "vm.vhdx",
    })) as Job;
    return job.id;
  }

  /** Waits until the job is reading the disk (its snapshot exists, a datastore read is under way). */
  async function whileReading(): Promise<void> {
    await eventually("the export to read the disk", 30_000, async () => {
      const stats = await vcsim.stats();
      return stats.snapshots[VM] === 1 && stats.folderGets >= 2 ? true : undefined;
    });
  }

  it("is removed when the job is cancelled mid-read", async () => {
    const output = join(root, "cancelled");
    mkdirSync(output);
    await vcsim.setFolderDelay(300);
    const id = await startExport(undefined, output);
    await whileReading();
    await engine!.client().jobs.cancel(id);
    const result = await waitForJob(engine!.client().jobs, id, { maxWaitMs: 30_000, minDelayMs: 100, maxDelayMs: 500 });
    assert.equal(result.last?.status, "cancelled");
    await eventually("the snapshot to be removed", 10_000, async () => ((await vcsim.stats()).snapshots[VM] === 0 ? true : undefined));
    assert.deepEqual(readdirSync(output), [], "no output, partial or whole");
  });

  it("is replaced after SIGKILL of the engine, and the job completes on restart", async () => {
    const output = join(root, "crashed");
    const dataDir = join(root, "data");
    mkdirSync(output);
    mkdirSync(dataDir);
    const removesBefore = (await vcsim.stats()).soapCalls["RemoveSnapshot_Task"] ?? 0;
    await vcsim.setFolderDelay(300);
    const id = await startExport(dataDir, output);
    await whileReading();
    await engine!.crash();
    assert.equal((await vcsim.stats()).snapshots[VM], 1, "the killed attempt left its snapshot");

    await vcsim.setFolderDelay(0);
    engine = await EngineProcess.start(dataDir);
    const result = await waitForJob(engine.client().jobs, id, { maxWaitMs: 120_000, minDelayMs: 200, maxDelayMs: 1000 });
    const job = result.last!;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.equal(job.attempt, 2);
    assert.equal((await vcsim.stats()).snapshots[VM], 0, "the first attempt's snapshot and the second's are both gone");
    assert.equal((await vcsim.stats()).soapCalls["RemoveSnapshot_Task"] - removesBefore, 2, "two snapshots taken, two removed");
    assert.ok(await qemuCompare(guest.path, "raw", join(output, "vm.vhdx"), "vhdx"));
    assert.deepEqual(readdirSync(output), ["vm.vhdx"], "no partial file of the first attempt");
  });
});
