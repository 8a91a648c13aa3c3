import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { JobWorld, startJobWorld } from "../helpers/job-world";
import { eventually, processesMatching } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("cancelling a running job", function () {
  this.timeout(180_000);
  let world: JobWorld;

  before(async () => {
    world = await startJobWorld();
    // Big enough that the conversion runs for a few seconds on a 2-core machine.
    await makeSparseDisk({ path: join(world.inputDir, "big.raw"), format: "raw", virtualSize: 2048 * MIB, dataBytes: 640 * MIB, seed: 3 });
  });
  after(async () => world?.close());

  it("stops it within seconds, kills its tools and removes its temporary output", async () => {
    const res = await world.submit("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "big.raw",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "big.vhdx",
    });
    assert.equal(res.status, 202);
    const id = res.json.id as string;
    assert.equal(res.headers.get("location"), `/ips/jobs/${id}`);

    await eventually("the convert step to run", 30_000, async () => {
      const job = await world.client.jobs.get(id);
      return job?.steps.find((s) => s.name === "convert")?.status === "inProgress" || undefined;
    });
    await eventually("qemu-img writing the partial output", 10_000, () => processesMatching(world.outputDir).length > 0 || undefined);

    const cancelledAt = Date.now();
    const cancel = await world.engine.api("DELETE", `/ips/jobs/${id}`);
    assert.equal(cancel.status, 202, "a running job is cancelled by request");
    assert.equal(cancel.json.cancelRequested, true);

    const job = await world.wait(id, 30_000);
    const took = Date.now() - cancelledAt;
    assert.equal(job.status, "cancelled");
    assert.equal(job.error?.code, "JOB_CANCELLED");
    assert.ok(took < 5_000, `cancelled after ${took} ms`);
    assert.equal(job.steps.find((s) => s.name === "convert")?.status, "cancelled");
    assert.deepEqual(processesMatching(world.outputDir), [], "no tool is still writing");
    assert.deepEqual(readdirSync(world.outputDir), [], "no partial or final output remains");
    assert.deepEqual(readdirSync(join(world.engine.dataDir, "work")), [], "the job's scratch space is gone");
  });

  it("cancels a job that has not started at once (200)", async () => {
    // Fill both local slots with slow jobs, then queue a third and cancel it.
    const body = (name: string) => ({
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "big.raw",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: name,
    });
    const running = [await world.submit("export", body("a.vhdx")), await world.submit("export", body("b.vhdx"))];
    const queued = await world.submit("export", body("c.vhdx"));
    await eventually("both slots busy", 30_000, async () => {
      const states = await Promise.all(running.map((r) => world.client.jobs.get(r.json.id)));
      return states.every((j) => j?.status === "inProgress") || undefined;
    });
    const third = await world.client.jobs.get(queued.json.id);
    assert.equal(third?.status, "notStarted", "the local location runs two jobs at once");

    const cancel = await world.engine.api("DELETE", `/ips/jobs/${queued.json.id}`);
    assert.equal(cancel.status, 200);
    assert.equal(cancel.json.status, "cancelled");
    for (const r of running) await world.engine.api("DELETE", `/ips/jobs/${r.json.id}`);
    for (const r of running) assert.equal((await world.wait(r.json.id, 30_000)).status, "cancelled");
    assert.deepEqual(readdirSync(world.outputDir), []);
  });

  it("stops a job that runs past its timeout with JOB_TIMED_OUT, leaving nothing behind", async () => {
    const job = await world.run("export", {
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "big.raw",
      outputStorageLocation: { location: world.fileLocation(world.outputDir) },
      outputImageFilename: "slow.vhdx",
      timeout: 1,
    });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "JOB_TIMED_OUT");
    assert.match(job.error!.message, /timeout of 1 s/);
    const took = Date.parse(job.finishedAt!) - Date.parse(job.startedAt!);
    assert.ok(took < 5_000, `stopped ${took} ms after it started`);
    assert.deepEqual(processesMatching(world.outputDir), []);
    assert.deepEqual(readdirSync(world.outputDir), []);
  });
});
