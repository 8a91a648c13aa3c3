import assert from "node:assert/strict";
import { job, ScriptedJobsApi } from "../unit/client-scripted-jobs-api";
import { cleanEnv, runCli, startCli } from "./cli-run";

// `imageport jobs` against a scripted IPS-shaped API, for what a real engine cannot be made to do
// on cue: a job that never ends (timeout, Ctrl-C), a 202 cancel, paging. The same commands against
// the real engine are in cli-jobs-against-real-engine.test.ts.

const ROUTE = "GET /ips/jobs/j1";

describe("cli: imageport jobs (exit codes, Ctrl-C, paging)", function () {
  this.timeout(60_000);
  let api: ScriptedJobsApi;
  let env: NodeJS.ProcessEnv;

  beforeEach(async () => {
    api = new ScriptedJobsApi();
    env = cleanEnv({ IMAGEPORT_ENDPOINT: await api.start(), IMAGEPORT_CUSTOMER_ID: "c", IMAGEPORT_CLIENT_ID: "id", IMAGEPORT_CLIENT_SECRET: "scripted-secret" });
  });
  afterEach(() => api.stop());

  it("watch: one line per change when piped, the artifacts at the end, exit 0 on complete", async () => {
    const done = job({ status: "complete", overallProgressPercent: 100, steps: [], additionalInfo: { artifacts: { outputUri: "file:///out/a.vhdx", sizeBytes: 2048 } } });
    api.on(ROUTE, [200, job({ overallProgressPercent: 10 })], [200, job({ overallProgressPercent: 10 })], [200, job({ overallProgressPercent: 60 })], [200, done]);
    const r = await runCli(["jobs", "watch", "j1"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [" 10% inProgress - convert inProgress 0%", " 60% inProgress - convert inProgress 0%", "100% complete", "Job j1 complete.", "  outputUri: file:///out/a.vhdx", "  sizeBytes: 2048 (2.0 KiB)", ""].join("\n"),
    );
    assert.equal(r.stderr, "");
  });

  for (const status of ["failed", "cancelled"] as const) {
    it(`watch: exit 1 with the job's error code and message when the job is ${status}`, async () => {
      const error = status === "failed" ? { code: "SHARE_WRITE_FAILED", message: "no space left on share 'exports'" } : { code: "JOB_CANCELLED", message: "cancelled by the user" };
      api.on(ROUTE, [200, job()], [200, job({ status, error })]);
      const r = await runCli(["jobs", "watch", "j1"], env);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `imageport: job j1 ${status}: ${error.code}: ${error.message}\n`);
    });
  }

  it("watch: exit 1 naming JOB_NOT_FOUND for an unknown job", async () => {
    api.on(ROUTE, [404, { error: { code: "JOB_NOT_FOUND", message: "no job j1" } }]);
    const r = await runCli(["jobs", "watch", "j1"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^imageport: JOB_NOT_FOUND/);
  });

  it("watch --timeout: exit 2 once the time is up, saying the job keeps running", async () => {
    api.on(ROUTE, [200, job({ overallProgressPercent: 10 })]);
    const r = await runCli(["jobs", "watch", "j1", "--timeout", "1.5"], env);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^imageport: stopped watching job j1 after 1\.5 s; it is inProgress \(10%\) and keeps running/);
    assert.ok(r.ms >= 1_500 && r.ms < 4_500, `took ${r.ms} ms`);
    assert.equal(api.calls.filter((c) => c.startsWith("DELETE")).length, 0);
  });

  it("watch: Ctrl-C stops watching at once without cancelling the job (exit 130)", async () => {
    api.on(ROUTE, [200, job({ overallProgressPercent: 10 })]);
    const run = startCli(["jobs", "watch", "j1"], env);
    await run.stdoutMatches(/10% inProgress/);
    const sent = Date.now();
    run.child.kill("SIGINT");
    const r = await run.done;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(Date.now() - sent < 1_000, `took ${Date.now() - sent} ms to stop`);
    assert.match(r.stderr, /stopped watching job j1; the job keeps running \(cancel it with: imageport jobs cancel j1\)/);
    assert.equal(api.calls.filter((c) => c.startsWith("DELETE")).length, 0, "Ctrl-C cancelled the job");
  });

  it("watch: refuses a --timeout that is not a positive number", async () => {
    const r = await runCli(["jobs", "watch", "j1", "--timeout", "soon"], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--timeout.*positive number of seconds/);
  });

  it("cancel: tells a cancelled job from a running one that was asked to stop, and reports 409", async () => {
    api.on("DELETE /ips/jobs/j1", [200, job({ status: "cancelled", error: { code: "JOB_CANCELLED", message: "cancelled" } })], [202, job({ cancelRequested: true })], [409, { error: { code: "JOB_NOT_CANCELLABLE", message: "Job j1 already finished (complete)." } }]);
    const first = await runCli(["jobs", "cancel", "j1"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, "Job j1 cancelled.\n");
    const second = await runCli(["jobs", "cancel", "j1"], env);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^Cancellation of job j1 requested; it stops within seconds/);
    const third = await runCli(["jobs", "cancel", "j1"], env);
    assert.equal(third.code, 1);
    assert.equal(third.stderr, "imageport: JOB_NOT_CANCELLABLE: Job j1 already finished (complete).\n");
  });

  it("ls --all follows continuation tokens; ls alone shows one page and says there is more", async () => {
    const a = job({ id: "a", createdAt: "2026-01-03T00:00:00Z" });
    const b = job({ id: "b", createdAt: "2026-01-02T00:00:00Z", status: "complete", overallProgressPercent: 100, steps: [] });
    const c = job({ id: "c", createdAt: "2026-01-01T00:00:00Z", status: "failed", error: { code: "DISK_TOOL_FAILED", message: "x" } });
    api.on("GET /ips/jobs?status=inProgress&pageSize=200", [200, { pageSize: 200, items: [a, b], continuationToken: "p2" }]);
    api.on("GET /ips/jobs?status=inProgress&pageSize=200&continuationToken=p2", [200, { pageSize: 200, items: [c] }]);
    api.on("GET /ips/jobs", [200, { pageSize: 50, items: [a], continuationToken: "p2" }]);
    const all = await runCli(["jobs", "ls", "--all", "--status", "inProgress"], env);
    assert.equal(all.code, 0, all.stderr);
    assert.deepEqual(all.stdout.trimEnd().split("\n").slice(1).map((l) => l.split(/\s+/).slice(0, 5).join(" ")), ["a export inProgress 0% convert", "b export complete 100% -", "c export failed 0% convert"]);
    const one = await runCli(["jobs", "ls", "--json"], env);
    assert.equal(one.code, 0, one.stderr);
    assert.deepEqual(JSON.parse(one.stdout).map((j: { id: string }) => j.id), ["a"]);
    assert.match(one.stderr, /there are more: use --all/);
  });
});
