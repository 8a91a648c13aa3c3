import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/export-job");

/** What a user sees when a job cannot be done: the property at preview, the job and its code at up. */
describe("ExportJob errors name the property, the job and the engine's code", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  let images: { dir: string; remove(): Promise<void> };
  const projects: PulumiProject[] = [];

  async function stack(config: Record<string, string>, secret: Record<string, string> = {}): Promise<PulumiProject> {
    const project = new PulumiProject(PROGRAM);
    projects.push(project);
    const values: Record<string, { value: string; secret?: boolean }> = {
      ...engine.providerConfig(),
      "job:inputLocation": { value: `file://${images.dir}/source/` },
      "job:inputImageFilename": { value: "golden.qcow2" },
      "job:outputLocation": { value: `file://${images.dir}/exports/` },
      "job:outputImageFilename": { value: "golden.vhdx" },
    };
    for (const [k, v] of Object.entries(config)) values[`job:${k}`] = { value: v };
    for (const [k, v] of Object.entries(secret)) values[`job:${k}`] = { value: v, secret: true };
    await project.init(values);
    for (const [k, v] of Object.entries(config)) if (v === "") await project.removeConfig(`job:${k}`);
    return project;
  }

  before(async () => {
    images = await tempDir("job-errors-");
    for (const sub of ["source", "exports"]) fs.mkdirSync(path.join(images.dir, sub));
    await makeSparseDisk({ path: path.join(images.dir, "source/golden.qcow2"), format: "qcow2", virtualSize: 32 << 20, dataBytes: 1 << 20, seed: "errors" });
    engine = await EngineProcess.start();
  });
  after(async () => {
    for (const p of projects) p.dispose();
    await engine?.stop();
    await images?.remove();
  });

  async function assertPreviewFails(project: PulumiProject, pattern: RegExp): Promise<void> {
    const preview = await project.run(["preview"]);
    assert.notEqual(preview.code, 0, `preview should fail:\n${preview.output}`);
    assert.match(preview.output, pattern);
    assert.deepEqual((await engine.client().jobs.list()).items, [], "no job was submitted");
  }

  it("a wrong enum value fails at preview naming the property and the allowed values", async () => {
    const project = await stack({ outputDiskType: "sparse" });
    await assertPreviewFails(project, /outputDiskType must be one of dynamic, fixed; got "sparse"/);
  });

  it("a missing required input fails at preview naming it", async () => {
    const project = await stack({ inputImageFilename: "" });
    await assertPreviewFails(project, /inputImageFilename is required/);
  });

  it("a secret where a plain value is expected fails at preview naming the property", async () => {
    const project = await stack({ outputImageFilenameAsSecret: "true" });
    await assertPreviewFails(project, /outputImageFilename must be a plain value, not a secret/);
  });

  it("a malformed storage location fails at preview naming the nested property", async () => {
    const project = await stack({ outputLocation: "ftp://example/dir/" });
    await assertPreviewFails(project, /outputStorageLocation\.location "ftp:\/\/example\/dir\/" is not supported/);
  });

  it("a job that fails in the engine surfaces with its id and the engine's error code, and nothing is recorded", async () => {
    fs.writeFileSync(path.join(images.dir, "exports/taken.vhdx"), "someone else's file");
    const project = await stack({ outputImageFilename: "taken.vhdx" });
    const up = await project.run(["up", "--yes"]);
    assert.notEqual(up.code, 0);
    const [job] = (await engine.client().jobs.list({ type: "export" })).items;
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "OUTPUT_EXISTS");
    assert.match(up.output, new RegExp(`export job ${job.id} failed with OUTPUT_EXISTS`));
    assert.ok(!(await project.resources()).some((r) => r.type === "imageport:index:ExportJob"), "a failed job is not a resource");
    assert.equal(fs.readFileSync(path.join(images.dir, "exports/taken.vhdx"), "utf8"), "someone else's file");
  });

  it("a deadline that passes cancels the job and creates nothing", async () => {
    // A location no connector serves: the job waits in the queue until the deadline.
    await engine.client().locations.create("parked", { name: "no connector here" });
    const project = await stack({ resourceLocationId: "parked", createTimeout: "3s", outputImageFilename: "late.vhdx" });
    const up = await project.run(["up", "--yes"]);
    assert.notEqual(up.code, 0);
    const [job] = (await engine.client().jobs.list({ type: "export" })).items.filter((j) => j.resourceLocationId === "parked");
    assert.equal(job.status, "cancelled", "the engine's job was cancelled");
    assert.match(up.output, new RegExp(`export job ${job.id} did not finish within 3s`));
    assert.match(up.output, /timeouts\.create/);
    assert.ok(!(await project.resources()).some((r) => r.type === "imageport:index:ExportJob"));
    assert.ok(!fs.existsSync(path.join(images.dir, "exports/late.vhdx")));
  });
});
