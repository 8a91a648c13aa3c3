import { strict as assert } from "assert";
import { ApiError, ImageportClient, Job, waitForJob } from "../../client";
import { job, ScriptedJobsApi, UNAVAILABLE } from "./client-scripted-jobs-api";

// waitForJob over real HTTP: job states map to SUCCESS / FAILURE, transient failures are
// polled through, other API errors end the wait, onProgress fires on changes only.

const FAST = { minDelayMs: 5, maxDelayMs: 20, maxWaitMs: 10_000 };
const ROUTE = "GET /ips/jobs/j1";

describe("client: waitForJob", () => {
  let api: ScriptedJobsApi;
  let client: ImageportClient;

  beforeEach(async () => {
    api = new ScriptedJobsApi();
    // No retries in the HTTP layer: every transient failure reaches the waiter.
    client = new ImageportClient({ endpoint: await api.start(), credentials: { customerId: "c", clientId: "i", clientSecret: "s" }, retries: 0 });
  });
  afterEach(() => api.stop());

  it("is SUCCESS with the finished job once the job is complete", async () => {
    const done = job({ status: "complete", overallProgressPercent: 100, additionalInfo: { artifacts: { outputUri: "file:///out/x.vhdx" } } });
    api.on(ROUTE, [200, job()], [200, job({ overallProgressPercent: 50 })], [200, done]);
    const r = await waitForJob(client.jobs, "j1", FAST);
    assert.equal(r.state, "SUCCESS");
    assert.equal(r.last?.additionalInfo.artifacts.outputUri, "file:///out/x.vhdx");
    assert.equal(api.count(ROUTE), 3);
  });

  for (const status of ["failed", "cancelled"] as const) {
    it(`is FAILURE with the job's error code and message when the job is ${status}`, async () => {
      const error = { code: status === "failed" ? "SOURCE_DISK_NOT_FOUND" : "JOB_CANCELLED", message: "the reason" };
      api.on(ROUTE, [200, job()], [200, job({ status, error })]);
      const r = await waitForJob(client.jobs, "j1", FAST);
      assert.equal(r.state, "FAILURE");
      assert.equal(r.reason, `${error.code}: the reason`);
      assert.equal(r.last?.status, status);
      assert.equal(api.count(ROUTE), 2, "no poll after the job ended");
    });
  }

  it("is FAILURE naming JOB_NOT_FOUND when the job does not exist", async () => {
    api.on(ROUTE, [404, { error: { code: "JOB_NOT_FOUND", message: "no job j1" } }]);
    const r = await waitForJob(client.jobs, "j1", FAST);
    assert.equal(r.state, "FAILURE");
    assert.match(r.reason, /^JOB_NOT_FOUND/);
    assert.equal(r.last, undefined);
  });

  it("polls through 503, 429 and dropped connections and reports each to onTransientError", async () => {
    const problems: string[] = [];
    api.on(ROUTE, UNAVAILABLE, [429, { error: { code: "RATE_LIMITED", message: "slow down" } }], [0, null], [200, job({ status: "complete", overallProgressPercent: 100 })]);
    const r = await waitForJob(client.jobs, "j1", { ...FAST, onTransientError: (e) => problems.push((e as ApiError).code) });
    assert.equal(r.state, "SUCCESS");
    assert.deepEqual(problems, ["INTERNAL", "RATE_LIMITED", "CONNECTION_FAILED"]);
  });

  it("times out when the API stays unavailable, with no job seen", async () => {
    api.on(ROUTE, UNAVAILABLE);
    const r = await waitForJob(client.jobs, "j1", { minDelayMs: 10, maxDelayMs: 20, maxWaitMs: 200 });
    assert.equal(r.state, "TIMEOUT");
    assert.equal(r.last, undefined);
    assert.ok(api.count(ROUTE) >= 3);
  });

  it("ends the wait with the API's error when it is not transient (403)", async () => {
    api.on(ROUTE, [403, { error: { code: "FORBIDDEN", message: "wrong customer" } }]);
    await assert.rejects(waitForJob(client.jobs, "j1", FAST), (e: ApiError) => e.code === "FORBIDDEN");
    assert.equal(api.count(ROUTE), 1);
  });

  it("calls onProgress for the first job seen and when status, progress or a step changes, not otherwise", async () => {
    const running = job({ overallProgressPercent: 40 });
    const stepMoved = job({ overallProgressPercent: 40, steps: [running.steps[0], { name: "convert", status: "inProgress", progressPercent: 70 }] });
    api.on(ROUTE, [200, job()], [200, job()], [200, running], [200, running], [200, stepMoved], [200, job({ status: "complete", overallProgressPercent: 100 })]);
    const seen: Job[] = [];
    const r = await waitForJob(client.jobs, "j1", { ...FAST, onProgress: (j) => seen.push(j) });
    assert.equal(r.state, "SUCCESS");
    assert.equal(api.count(ROUTE), 6);
    assert.deepEqual(
      seen.map((j) => `${j.status}:${j.overallProgressPercent}:${j.steps[1]?.progressPercent ?? "-"}`),
      ["inProgress:0:0", "inProgress:40:0", "inProgress:40:70", "complete:100:0"],
    );
  });

  it("stops at once on abort, during the HTTP request", async () => {
    api.on(ROUTE, [-1, null]);
    const controller = new AbortController();
    const start = Date.now();
    setTimeout(() => controller.abort(new Error("stop")), 100);
    const r = await waitForJob(client.jobs, "j1", { ...FAST, signal: controller.signal });
    assert.equal(r.state, "ABORTED");
    assert.equal(r.reason, "stop");
    assert.ok(Date.now() - start < 100 + 60, `took ${Date.now() - start} ms`);
  });
});
