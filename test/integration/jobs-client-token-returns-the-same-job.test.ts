import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { makeSparseDisk } from "../helpers/disks";
import { startTestEngine, TestEngine } from "../helpers/engine-harness";
import { eventually } from "../helpers/processes";

const MIB = 1024 * 1024;

describe("a clientToken makes job submission idempotent (re-attach after a lost answer)", function () {
  this.timeout(60_000);
  let engine: TestEngine;
  let root: string;
  let body: (token: string, input?: string) => Record<string, unknown>;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), "imageport-token-"));
    for (const d of ["in", "out"]) mkdirSync(join(root, d));
    await makeSparseDisk({ path: join(root, "in", "src.qcow2"), format: "qcow2", virtualSize: 16 * MIB, dataBytes: 2 * MIB, seed: 11 });
    writeFileSync(join(root, "in", "bogus.qcow2"), Buffer.alloc(4096, 7)); // exists, but is no qcow2
    engine = await startTestEngine();
    let n = 0;
    body = (clientToken, input = "src.qcow2") => ({
      clientToken,
      inputStorageLocation: { location: pathToFileURL(join(root, "in")).href + "/" },
      inputImageFilename: input,
      outputStorageLocation: { location: pathToFileURL(join(root, "out")).href + "/" },
      outputImageFilename: `out-${++n}.vhdx`,
    });
  });
  after(async () => {
    await engine?.close({ removeData: true });
    rmSync(root, { recursive: true, force: true });
  });

  const jobCount = async () => (await engine.api("GET", "/ips/jobs?pageSize=200")).json.items.length as number;

  it("answers a repeated submission with the job it started (200), not a second job", async () => {
    const before = await jobCount();
    const first = await engine.api("POST", "/ips/images/$export", body("urn-1"));
    const again = await engine.api("POST", "/ips/images/$export", body("urn-1"));
    assert.equal(first.status, 202);
    assert.equal(again.status, 200);
    assert.equal(again.json.id, first.json.id);
    assert.equal(again.headers.get("location"), `/ips/jobs/${first.json.id}`);
    assert.equal(await jobCount(), before + 1);
  });

  it("starts exactly one job when the same token arrives several times at once", async () => {
    const before = await jobCount();
    const answers = await Promise.all(Array.from({ length: 6 }, () => engine.api("POST", "/ips/images/$export", body("urn-race"))));
    assert.equal(new Set(answers.map((a) => a.json.id)).size, 1);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 200, 200, 200, 200, 202]);
    assert.equal(await jobCount(), before + 1);
  });

  it("starts a new job when the token's job failed", async () => {
    const failed = await engine.api("POST", "/ips/images/$export", body("urn-retry", "bogus.qcow2"));
    assert.equal(failed.status, 202);
    await eventually("the job to fail", 30_000, async () => (await engine.api("GET", `/ips/jobs/${failed.json.id}`)).json.status === "failed" || undefined);
    const retried = await engine.api("POST", "/ips/images/$export", body("urn-retry"));
    assert.equal(retried.status, 202);
    assert.notEqual(retried.json.id, failed.json.id);
  });

  it("refuses a token already used by another kind of job, naming clientToken", async () => {
    const res = await engine.api("POST", "/ips/images/$prepare", { ...body("urn-1"), provisioningType: "Mcs" });
    assert.equal(res.status, 400);
    assert.equal(res.json.error.fields[0].field, "clientToken");
  });

  it("explains a malformed token", async () => {
    const res = await engine.api("POST", "/ips/images/$export", body("has spaces"));
    assert.equal(res.status, 400);
    assert.equal(res.json.error.fields[0].field, "clientToken");
    assert.match(res.json.error.fields[0].message, /letters, digits/);
  });
});

describe("an engine started without its local connector", function () {
  this.timeout(30_000);
  it("queues jobs of the local location without running them (another engine's connector will)", async () => {
    const engine = await startTestEngine({ localConnector: false });
    try {
      const root = mkdtempSync(join(tmpdir(), "imageport-nolocal-"));
      const res = await engine.api("POST", "/ips/images/$export", {
        inputStorageLocation: { location: pathToFileURL(root).href + "/" },
        inputImageFilename: "not-checked-here.qcow2",
        outputStorageLocation: { location: pathToFileURL(root).href + "/" },
        outputImageFilename: "out.vhdx",
      });
      assert.equal(res.status, 202, "a local path is not checked by an engine that does not run local jobs");
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal((await engine.api("GET", `/ips/jobs/${res.json.id}`)).json.status, "notStarted");
      rmSync(root, { recursive: true, force: true });
    } finally {
      await engine.close({ removeData: true });
    }
  });
});
