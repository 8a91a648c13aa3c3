import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { qemuCompare, tempDir } from "../helpers/disks";
import { LINUX_FACTS, makeLinuxImage } from "../helpers/guest-images";
import { EngineProcess } from "../helpers/engine-process";
import { independentBlockDigest } from "../helpers/block-digest-oracle";
import { fingerprint } from "../helpers/job-world";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const QUICKSTART = path.join(REPO_ROOT, "examples/quickstart");
const PUBLISH = "imageport:index:PublishJob";

/** examples/quickstart, as a user runs it: export -> prepare (the Linux guest, offline) -> publish on a real engine. */
describe("quickstart: export, prepare and publish through the whole Pulumi lifecycle", function () {
  this.timeout(900_000);
  let engine: EngineProcess;
  let project: PulumiProject;
  let images: { dir: string; remove(): Promise<void> };
  let source: string;
  let sourceBefore: ReturnType<typeof fingerprint>;
  const files = (sub: string) => fs.readdirSync(path.join(images.dir, sub)).sort();
  const exportJobs = async () => (await engine.client().jobs.list({ type: "export" })).items;

  before(async () => {
    images = await tempDir("quickstart-");
    for (const sub of ["source", "exports", "prepared", "store"]) fs.mkdirSync(path.join(images.dir, sub));
    source = path.join(images.dir, "source/golden-linux.qcow2");
    const guest = await makeLinuxImage(images.dir, "guest", { scheme: "gpt" });
    execFileSync("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", guest.path, source]);
    fs.rmSync(guest.path);
    sourceBefore = fingerprint(source);
    engine = await EngineProcess.start();
    project = new PulumiProject(QUICKSTART);
    await project.init({ ...engine.providerConfig(), "imageport-quickstart:imageDir": { value: images.dir } });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
    await images?.remove();
  });

  it("up writes a verified export, a disk prepared for PVS (its guest's facts reported) and the vDisk of that disk", async () => {
    const up = await project.ok(["up", "--yes"]);
    assert.match(up.output, /publish \d+%/, "progress was shown while the jobs ran");
    assert.deepEqual(files("exports"), ["golden.vhdx"]);
    assert.deepEqual(files("prepared"), ["golden-pvs.vhdx"]);
    assert.deepEqual(files("store"), ["golden-v1.vdisk.json", "golden-v1.vhdx"]);
    assert.ok(await qemuCompare(source, "qcow2", path.join(images.dir, "exports/golden.vhdx"), "vhdx"), "the export reads like the source");
    assert.ok(await qemuCompare(path.join(images.dir, "prepared/golden-pvs.vhdx"), "vhdx", path.join(images.dir, "store/golden-v1.vhdx"), "vhdx"), "the vDisk reads like the prepared disk");
    assert.equal(await qemuCompare(source, "qcow2", path.join(images.dir, "prepared/golden-pvs.vhdx"), "vhdx"), false, "preparation changed the guest");
    const outputs = await project.outputs();
    assert.equal(outputs.exportBlockDigest, independentBlockDigest(source, "qcow2", images.dir));
    assert.equal(outputs.vdiskBlockDigest, independentBlockDigest(path.join(images.dir, "prepared/golden-pvs.vhdx"), "vhdx", images.dir));
    assert.deepEqual([outputs.guestOs, outputs.guestProduct], ["Linux", LINUX_FACTS.productName]);
    assert.equal(outputs.vdiskUri, `file://${images.dir}/store/golden-v1.vhdx`);
    assert.equal((await exportJobs()).length, 1);
  });

  it("previews no changes right after up", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("refreshes without changes while the outputs are there", async () => {
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("drops a vDisk deleted out of band on refresh, and the next up publishes it again", async () => {
    fs.rmSync(path.join(images.dir, "store/golden-v1.vhdx"));
    const refresh = await project.run(["refresh", "--yes", "--expect-no-changes"]);
    assert.notEqual(refresh.code, 0, "refresh must report the missing vDisk");
    assert.ok(!(await project.resources()).some((r) => r.type === PUBLISH), "the PublishJob left the state");
    await project.ok(["up", "--yes"]);
    assert.deepEqual(files("store"), ["golden-v1.vdisk.json", "golden-v1.vhdx"]);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("a renamed export previews as a replace of the chain and applies", async () => {
    await project.setConfig({ "imageport-quickstart:exportName": { value: "golden-v2.vhdx" } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.output, /\+-\s*3 to replace/);
    await project.ok(["up", "--yes"]);
    assert.deepEqual(files("exports"), ["golden-v2.vhdx"], "the old export is removed, the new one written");
    assert.deepEqual(files("prepared"), ["golden-pvs.vhdx"]);
    assert.deepEqual(files("store"), ["golden-v1.vdisk.json", "golden-v1.vhdx"]);
    assert.equal((await exportJobs()).length, 2);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("destroy removes every file the jobs wrote and leaves the source untouched", async () => {
    await project.ok(["destroy", "--yes"]);
    assert.deepEqual(files("exports"), []);
    assert.deepEqual(files("prepared"), []);
    assert.deepEqual(files("store"), []);
    assert.deepEqual(fingerprint(source), sourceBefore);
  });
});
