import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { makeSparseDisk, qemuCompare, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { eventually, processesMatching } from "../helpers/processes";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/export-job");

/** `pulumi up` interrupted while its job runs: the next `up` finishes that job, not a second one. */
describe("an interrupted up (SIGKILL or Ctrl-C) is finished by the next up without a second job", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };

  before(async () => {
    images = await tempDir("reattach-");
    for (const sub of ["source", "exports"]) fs.mkdirSync(path.join(images.dir, sub));
    // Big enough that the export is still running when the CLI is killed.
    await makeSparseDisk({ path: path.join(images.dir, "source/golden.qcow2"), format: "qcow2", virtualSize: 2 * 1024 ** 3, dataBytes: 512 << 20, seed: "reattach", chunk: 1 << 20 });
    engine = await EngineProcess.start();
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "job:inputLocation": { value: `file://${images.dir}/source/` },
      "job:inputImageFilename": { value: "golden.qcow2" },
      "job:outputLocation": { value: `file://${images.dir}/exports/` },
      "job:outputImageFilename": { value: "golden.vhdx" },
    });
  });
  after(async () => {
    if (project) for (const pid of processesMatching(project.dir)) process.kill(pid, "SIGKILL");
    project?.dispose();
    await engine?.stop();
    await images?.remove();
  });

  it("re-attaches to the job in flight and records it as the resource", async () => {
    const first = project.start(["up", "--yes"]);
    const running = await eventually("the export job to run", 120_000, async () => {
      const [job] = (await engine.client().jobs.list({ type: "export" })).items;
      return job?.status === "inProgress" ? job : undefined;
    });
    const providers = processesMatching("provider/main.js").filter((pid) => parentOf(pid) === first.child.pid);
    assert.equal(providers.length, 1, "the CLI runs the imageport provider");
    const exited = new Promise((resolve) => first.child.once("exit", resolve));
    process.kill(first.child.pid!, "SIGKILL");
    await exited;
    // The provider notices its CLI is gone and exits; the job keeps running in the engine.
    await eventually("the orphaned provider to exit", 10_000, () => !processesMatching("provider/main.js").includes(providers[0]) || undefined);
    assert.notEqual((await engine.client().jobs.get(running.id))?.status, "cancelled");

    // The killed CLI left its stack lock behind; a user clears it the same way.
    await project.ok(["cancel", "--yes"]);
    const second = await project.ok(["up", "--yes"]);
    assert.match(second.output, /pending operations/i, "Pulumi saw the interrupted create");
    const jobs = (await engine.client().jobs.list({ type: "export" })).items;
    assert.equal(jobs.length, 1, `one export job, not ${jobs.length}`);
    assert.equal(jobs[0].id, running.id);
    assert.equal(jobs[0].status, "complete");
    const [resource] = (await project.resources()).filter((r) => r.type === "imageport:index:ExportJob");
    assert.equal(resource.id, running.id, "the resource is the job that was running");
    assert.ok(await qemuCompare(path.join(images.dir, "source/golden.qcow2"), "qcow2", path.join(images.dir, "exports/golden.vhdx"), "vhdx"));
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["destroy", "--yes"]);
    assert.deepEqual(fs.readdirSync(path.join(images.dir, "exports")), []);
  });

  it("after Ctrl-C the resource is recorded with its job, and the next up waits for that job", async () => {
    fs.rmSync(path.join(images.dir, "exports"), { recursive: true, force: true });
    fs.mkdirSync(path.join(images.dir, "exports"));
    const before = (await engine.client().jobs.list({ type: "export" })).items.length;
    const first = project.start(["up", "--yes"]);
    const running = await eventually("a new export job to run", 120_000, async () => {
      const jobs = (await engine.client().jobs.list({ type: "export" })).items;
      return jobs.length > before && jobs[0].status === "inProgress" ? jobs[0] : undefined;
    });
    const exited = new Promise<number | null>((resolve) => first.child.once("exit", (code) => resolve(code)));
    process.kill(first.child.pid!, "SIGINT");
    assert.notEqual(await exited, 0, "the interrupted up reports failure");
    assert.match(first.output(), new RegExp(`stopped waiting for export job ${running.id}`));
    const [recorded] = (await project.resources()).filter((r) => r.type === "imageport:index:ExportJob");
    assert.equal(recorded?.id, running.id, "the job id is in state, nothing is orphaned");

    await project.ok(["up", "--yes"]);
    const jobs = (await engine.client().jobs.list({ type: "export" })).items;
    assert.equal(jobs.length, before + 1, "no second job");
    assert.equal(jobs[0].status, "complete");
    assert.equal((await project.outputs()).status, "complete");
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["destroy", "--yes"]);
  });
});


function parentOf(pid: number): number | undefined {
  try {
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so split after ')'.
    return Number(fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(")").pop()!.trim().split(" ")[1]);
  } catch {
    return undefined;
  }
}
