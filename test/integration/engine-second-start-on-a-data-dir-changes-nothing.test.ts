import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";

/** `imageport serve` on a data directory another engine holds, as `bin/imageport serve` runs it. */
function serveAgain(dataDir: string) {
  return spawnSync(process.execPath, [join(REPO_ROOT, "dist/cli/main.js"), "serve", "--data", dataDir, "--port", "0"], { encoding: "utf8", timeout: 30_000 });
}

describe("one engine per data directory: a second start changes nothing", function () {
  this.timeout(180_000);

  it("exits non-zero naming the running engine, and the first engine's running export completes", async () => {
    const images = await tempDir("lock-");
    const engine = await EngineProcess.start();
    try {
      mkdirSync(join(images.dir, "in"));
      mkdirSync(join(images.dir, "out"));
      // Big enough to still be running when the second engine starts.
      await makeSparseDisk({ path: join(images.dir, "in/big.qcow2"), format: "qcow2", virtualSize: 4096 * 1024 * 1024, dataBytes: 640 << 20, chunk: 4 << 20, seed: "lock" });
      const client = engine.client();
      const job = (await client.jobs.start("export", {
        inputStorageLocation: { location: pathToFileURL(join(images.dir, "in")).href + "/" },
        inputImageFilename: "big.qcow2",
        outputStorageLocation: { location: pathToFileURL(join(images.dir, "out")).href + "/" },
        outputImageFilename: "big.vhdx",
      })) as Job;
      const second = serveAgain(engine.dataDir);
      assert.equal(second.status, 1, `the second engine must stop at once: ${second.stderr}`);
      assert.match(second.stderr, /in use by imageportd pid \d+/);
      assert.match(second.stderr, /nothing was changed/);
      const now = await client.jobs.get(job.id);
      assert.ok(now && now.status !== "failed" && now.attempt === 1, "the running job was neither taken back nor failed");
      assert.doesNotMatch(readFileSync(join(engine.dataDir, "logs/imageportd.log"), "utf8"), /taken back after engine restart/);

      const done = await waitForJob(client.jobs, job.id, { maxWaitMs: 120_000, minDelayMs: 100, maxDelayMs: 500 });
      assert.equal(done.last?.status, "complete", JSON.stringify(done.last?.error));
    } finally {
      await engine.stop();
      await images.remove();
    }
  });

  it("takes over the lock of an engine that was killed, and of a pid now used by another process", async () => {
    const engine = await EngineProcess.start();
    const dataDir = engine.dataDir;
    const keep = await EngineProcess.start(dataDir).catch((e: Error) => e);
    assert.ok(keep instanceof Error && /in use by imageportd/.test(keep.message), "a second engine is refused while the first runs");
    await engine.crash();
    assert.ok(existsSync(join(dataDir, "imageportd.pid")), "a killed engine leaves its lock file");
    const restarted = await EngineProcess.start(dataDir);
    await restarted.stop();
    // A lock naming a live process that is not the engine that wrote it (pid reused): stale.
    writeFileSync(join(dataDir, "imageportd.pid"), JSON.stringify({ pid: process.pid, startTime: "1", hostname: hostname(), startedAt: "2026-01-01T00:00:00Z" }));
    const again = await EngineProcess.start(dataDir);
    await again.stop();
    await engine.stop();
  });
});
