import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { makeSparseDisk, qemuCompare } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { eventually, processesMatching } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("an export interrupted by SIGKILL of the engine", function () {
  this.timeout(240_000);
  let root: string;
  let engine: EngineProcess | undefined;

  before(() => {
    root = mkdtempSync(join(tmpdir(), "imageport-crash-"));
  });
  after(async () => {
    await engine?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("is started again after restart and ends complete, with no partial file under the output name", async () => {
    const dataDir = join(root, "data");
    const input = join(root, "in");
    const output = join(root, "out");
    for (const d of [dataDir, input, output]) mkdirSync(d);
    await makeSparseDisk({ path: join(input, "big.raw"), format: "raw", virtualSize: 2048 * MIB, dataBytes: 640 * MIB, seed: 4 });

    engine = await EngineProcess.start(dataDir);
    const id = (
      (await engine.client().jobs.start("export", {
        inputStorageLocation: { location: pathToFileURL(input).href + "/" },
        inputImageFilename: "big.raw",
        outputStorageLocation: { location: pathToFileURL(output).href + "/" },
        outputImageFilename: "big.vhdx",
      })) as Job
    ).id;
    await eventually("qemu-img writing the partial output", 30_000, () => processesMatching(output).length > 0 || undefined);

    await engine.crash();
    await eventually("the engine's tools to die with it", 5_000, () => processesMatching(output).length === 0 || undefined);
    assert.ok(!readdirSync(output).includes("big.vhdx"), "nothing under the output name after the crash");

    engine = await EngineProcess.start(dataDir);
    const result = await waitForJob(engine.client().jobs, id, { maxWaitMs: 120_000, minDelayMs: 200, maxDelayMs: 1000 });
    const job = result.last!;
    assert.equal(job.status, "complete", JSON.stringify(job.error));
    assert.equal(job.attempt, 2);
    assert.equal(job.warnings[0]?.code, "ENGINE_RESTARTED");
    assert.match(job.warnings[0]!.message, /starts again/);
    assert.deepEqual(readdirSync(output), ["big.vhdx"], "the first attempt's partial file was removed");
    assert.ok(await qemuCompare(join(input, "big.raw"), "raw", join(output, "big.vhdx"), "vhdx"));
  });
});
