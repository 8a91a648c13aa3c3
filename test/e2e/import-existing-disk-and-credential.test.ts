import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { waitForJob } from "../../client";
import { makeSparseDisk, tempDir } from "../helpers/disks";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

/** `pulumi import` of things made outside Pulumi, then the program that declares them previews clean. */
describe("pulumi import of an exported disk and of a credential", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  let images: { dir: string; remove(): Promise<void> };
  const projects: PulumiProject[] = [];

  before(async () => {
    images = await tempDir("import-");
    for (const sub of ["source", "exports"]) fs.mkdirSync(path.join(images.dir, sub));
    await makeSparseDisk({ path: path.join(images.dir, "source/golden.qcow2"), format: "qcow2", virtualSize: 32 << 20, dataBytes: 2 << 20, seed: "import" });
    engine = await EngineProcess.start();
  });
  after(async () => {
    for (const p of projects) p.dispose();
    await engine?.stop();
    await images?.remove();
  });

  it("imports an export made with the API by its job id; the declaring program previews and refreshes clean", async () => {
    const client = engine.client();
    const job = await client.jobs.start("export", {
      inputStorageLocation: { location: `file://${images.dir}/source/` },
      inputImageFilename: "golden.qcow2",
      outputStorageLocation: { location: `file://${images.dir}/exports/` },
      outputImageFilename: "golden.vhdx",
      outputDiskType: "fixed",
    });
    assert.equal((await waitForJob(client.jobs, job.id, { maxWaitMs: 120_000 })).state, "SUCCESS");

    const project = new PulumiProject(path.join(REPO_ROOT, "test/e2e/programs/export-job"));
    projects.push(project);
    await project.init({
      ...engine.providerConfig(),
      "job:inputLocation": { value: `file://${images.dir}/source/` },
      "job:inputImageFilename": { value: "golden.qcow2" },
      "job:outputLocation": { value: `file://${images.dir}/exports/` },
      "job:outputImageFilename": { value: "golden.vhdx" },
      "job:outputDiskType": { value: "fixed" },
    });
    // The Node.js language host of this toolchain cannot generate code, so import without it.
    await project.ok(["import", "imageport:index:ExportJob", "disk", job.id, "--yes", "--generate-code=false"]);
    const [imported] = (await project.resources()).filter((r) => r.type === "imageport:index:ExportJob");
    assert.equal(imported.id, job.id);
    const artifacts = (await client.jobs.get(job.id))!.additionalInfo.artifacts as { blockDigest: string };
    assert.match(artifacts.blockDigest, /^[0-9a-f]{64}$/);
    assert.equal(imported.outputs?.blockDigest, artifacts.blockDigest);
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    assert.equal((await client.jobs.list({ type: "export" })).items.length, 1, "importing ran no export");
  });

  it("imports a credential made with the API; the declaring program previews clean", async () => {
    const client = engine.client();
    await client.credentials.create("share-admin", { type: "UsernamePassword", username: "svc-images", password: "Imp0rted!" });
    const project = new PulumiProject(path.join(REPO_ROOT, "test/e2e/programs/credential"));
    projects.push(project);
    await project.init({
      ...engine.providerConfig(),
      "cred:type": { value: "UsernamePassword" },
      "cred:credentialId": { value: "share-admin" },
      "cred:username": { value: "svc-images" },
      "cred:password": { value: "Imp0rted!", secret: true },
    });
    await project.ok(["import", "imageport:index:Credential", "cred", "share-admin", "--yes", "--generate-code=false"]);
    await project.ok(["preview", "--expect-no-changes"]);
    // A different password than the wallet holds is a change, not hidden by the import.
    await project.setConfig({ "cred:password": { value: "S0mething-else", secret: true } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.output, /~ 1 to update/);
  });
});
