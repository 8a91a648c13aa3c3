import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiError, ImageportClient, Job, waitForJob } from "../../client";
import { startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";
import { runCli } from "./cli-run";

// NEEDS THE ENGINE'S JOB ROUTES (POST /ips/images/$export, /ips/jobs): the client's jobs API,
// waitForJob and `imageport jobs` against a real engine exporting a small qcow2 to VHDX.

const MiB = 1024 * 1024;
const VIRTUAL_SIZE = 8 * MiB;

describe("jobs against a real engine (needs the engine's job routes)", function () {
  this.timeout(120_000);
  let engine: TestEngine;
  let client: ImageportClient;
  let dir: string;
  let srcDir: string;
  let outDir: string;
  let outputs = 0;
  let target: string[];

  /** An export body per the contract; each call gets its own output file. */
  const exportBody = (inputImageFilename = "src.qcow2") => ({
    inputStorageLocation: { location: `file://${srcDir}/` },
    inputImageFilename,
    outputStorageLocation: { location: `file://${outDir}/` },
    outputImageFilename: `out-${++outputs}.vhdx`,
    outputImageFormat: "vhdx",
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "imageport-cli-jobs-"));
    srcDir = join(dir, "src");
    outDir = join(dir, "out");
    mkdirSync(srcDir);
    mkdirSync(outDir);
    // 8 MiB virtual, 1 MiB of data at 0 and 1 MiB at 5 MiB: the rest is a hole.
    const raw = join(dir, "src.raw");
    const fd = openSync(raw, "w");
    writeSync(fd, randomBytes(MiB), 0, MiB, 0);
    writeSync(fd, randomBytes(MiB), 0, MiB, 5 * MiB);
    closeSync(fd);
    execFileSync("qemu-img", ["resize", "-q", "-f", "raw", raw, String(VIRTUAL_SIZE)]);
    execFileSync("qemu-img", ["convert", "-q", "-f", "raw", "-O", "qcow2", raw, join(srcDir, "src.qcow2")]);
    writeFileSync(join(srcDir, "bogus.qcow2"), randomBytes(64 * 1024)); // exists, but is no qcow2
    engine = await startTestEngine();
    client = new ImageportClient({ endpoint: engine.engine.url, credentials: { customerId: engine.customerId, ...TEST_CLIENT }, retries: 0 });
    target = ["--endpoint", engine.engine.url, "--data", engine.dataDir];
  });
  after(async () => {
    await engine?.close({ removeData: true });
    rmSync(dir, { recursive: true, force: true });
  });

  const finish = async (job: Job) => {
    const r = await waitForJob(client.jobs, job.id, { maxWaitMs: 60_000, minDelayMs: 100, maxDelayMs: 500 });
    assert.ok(r.last, `job ${job.id}: ${r.state} ${r.reason}`);
    return r;
  };

  describe("client.jobs and waitForJob", () => {
    it("dryRun validates the body and creates nothing", async () => {
      const r = await client.jobs.start("export", exportBody(), { dryRun: true });
      assert.equal(r.dryRun, true);
      assert.equal(r.valid, true);
      assert.equal(r.parameters.inputImageFilename, "src.qcow2");
      assert.equal((await client.jobs.list()).items.length, 0);
      assert.equal(existsSync(join(outDir, `out-${outputs}.vhdx`)), false);
    });

    it("dryRun of a body without outputImageFilename is a 400 VALIDATION_FAILED", async () => {
      const { outputImageFilename: _dropped, ...body } = exportBody();
      await assert.rejects(client.jobs.start("export", body, { dryRun: true }), (e: ApiError) => e.status === 400 && e.code === "VALIDATION_FAILED");
    });

    it("starts an export and follows it to complete: a VHDX with the source's content", async () => {
      const body = exportBody();
      const job = await client.jobs.start("export", body);
      assert.match(job.id, /^[0-9a-f-]{36}$/);
      assert.equal(job.type, "export");
      assert.equal(job.parameters.outputImageFilename, body.outputImageFilename);
      const seen: Job[] = [];
      const r = await waitForJob(client.jobs, job.id, { maxWaitMs: 60_000, minDelayMs: 100, maxDelayMs: 500, onProgress: (j) => seen.push(j) });
      assert.equal(r.state, "SUCCESS", r.reason);
      assert.equal(r.last!.overallProgressPercent, 100);
      assert.equal(seen.at(-1)!.status, "complete");
      const out = join(outDir, body.outputImageFilename);
      assert.equal(r.last!.additionalInfo.artifacts.outputUri, `file://${out}`);
      const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-f", "vhdx", out], { encoding: "utf8" }));
      assert.equal(info.format, "vhdx");
      assert.equal(info["virtual-size"], VIRTUAL_SIZE);
      execFileSync("qemu-img", ["compare", "-q", "-f", "qcow2", "-F", "vhdx", join(srcDir, "src.qcow2"), out]); // throws unless identical
    });

    it("a job whose source is not a disk of its format fails with SOURCE_DISK_UNREADABLE", async () => {
      const r = await finish(await client.jobs.start("export", exportBody("bogus.qcow2")));
      assert.equal(r.state, "FAILURE");
      assert.match(r.reason, /^SOURCE_DISK_UNREADABLE: /);
      assert.equal(r.last!.status, "failed");
      assert.equal(r.last!.error?.code, "SOURCE_DISK_UNREADABLE");
    });

    it("get answers undefined for an unknown job id", async () => {
      assert.equal(await client.jobs.get(randomUUID()), undefined);
    });

    it("lists newest first, filters by status and type, and listAll follows continuation tokens", async () => {
      const newest = await client.jobs.start("export", exportBody());
      await finish(newest);
      const page = await client.jobs.list();
      assert.equal(page.items[0].id, newest.id);
      assert.ok(page.items.length >= 3);
      const failed = await client.jobs.list({ status: "failed", type: "export" });
      assert.ok(failed.items.length >= 1 && failed.items.every((j) => j.status === "failed" && j.type === "export"));
      assert.equal((await client.jobs.list({ type: "publish" })).items.length, 0);
      const first = await client.jobs.list({ pageSize: 1 });
      assert.equal(first.items.length, 1);
      assert.ok(first.continuationToken, "no continuation token with more jobs than the page size");
      const all: string[] = [];
      for await (const j of client.jobs.listAll({ pageSize: 1 })) all.push(j.id);
      assert.deepEqual(all, page.items.map((j) => j.id));
    });

    it("refuses to cancel a finished job with 409 JOB_NOT_CANCELLABLE", async () => {
      const done = (await client.jobs.list({ status: "complete" })).items[0];
      await assert.rejects(client.jobs.cancel(done.id), (e: ApiError) => e.status === 409 && e.code === "JOB_NOT_CANCELLABLE");
    });
  });

  describe("imageport jobs", () => {
    it("watch follows an export to complete and exits 0 with the output", async () => {
      const job = await client.jobs.start("export", exportBody());
      const r = await runCli(["jobs", "watch", job.id, ...target]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^100% complete$/m);
      assert.match(r.stdout, new RegExp(`^Job ${job.id} complete\\.\\n {2}outputUri: file://${outDir}/out-${outputs}\\.vhdx$`, "m"));
    });

    it("watch of a failing export exits 1 with its code and message", async () => {
      const job = await client.jobs.start("export", exportBody("bogus.qcow2"));
      const r = await runCli(["jobs", "watch", job.id, ...target]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^imageport: job ${job.id} failed: SOURCE_DISK_UNREADABLE: `));
    });

    it("ls shows every job in a table, newest first; --status failed --json only failed ones", async () => {
      const jobs = (await client.jobs.list()).items;
      const r = await runCli(["jobs", "ls", ...target]);
      assert.equal(r.code, 0, r.stderr);
      const rows = r.stdout.trimEnd().split("\n");
      assert.match(rows[0], /^ID\s+TYPE\s+STATUS\s+PROGRESS\s+STEP\s+CREATED$/);
      assert.deepEqual(rows.slice(1).map((l) => l.split(/\s+/)[0]), jobs.map((j) => j.id));
      assert.ok(rows.some((l) => /\sexport\s+complete\s+100%\s/.test(l)));
      const failed = await runCli(["jobs", "ls", "--status", "failed", "--json", ...target]);
      const items: Job[] = JSON.parse(failed.stdout);
      assert.ok(items.length >= 2 && items.every((j) => j.status === "failed"));
    });

    it("get prints a summary with steps and artifacts, or the job as JSON", async () => {
      const done = (await client.jobs.list({ status: "complete" })).items[0];
      const r = await runCli(["jobs", "get", done.id, ...target]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Status:\s+complete$/m);
      assert.match(r.stdout, /^Steps:$/m);
      assert.match(r.stdout, /^ {2}outputUri:\s+file:\/\//m);
      const json = await runCli(["jobs", "get", done.id, "--json", ...target]);
      assert.deepEqual(JSON.parse(json.stdout), await client.jobs.get(done.id));
    });

    it("get and cancel print the engine's code on errors and exit 1", async () => {
      const unknown = await runCli(["jobs", "get", randomUUID(), ...target]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^imageport: JOB_NOT_FOUND: /);
      const done = (await client.jobs.list({ status: "complete" })).items[0];
      const cancel = await runCli(["jobs", "cancel", done.id, ...target]);
      assert.equal(cancel.code, 1);
      assert.match(cancel.stderr, /^imageport: JOB_NOT_CANCELLABLE: /);
    });
  });
});
