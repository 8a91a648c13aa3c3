import { strict as assert } from "assert";
import * as path from "path";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/credential");
const CREDENTIAL = "imageport:index:Credential";

describe("Credential lifecycle with the real Pulumi CLI", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  let project: PulumiProject;

  before(async () => {
    engine = await EngineProcess.start();
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "cred:type": { value: "UsernamePassword" },
      "cred:credentialId": { value: "vcenter-admin" },
      "cred:username": { value: "administrator@vsphere.local" },
      "cred:password": { value: "first-password", secret: true },
    });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
  });

  it("creates the credential in the engine on up", async () => {
    await project.ok(["up", "--yes"]);
    const view = await engine.client().credentials.get("vcenter-admin");
    assert.equal(view?.type, "UsernamePassword");
    assert.equal(view?.username, "administrator@vsphere.local");
    const outputs = await project.outputs();
    assert.equal(outputs.credentialId, "vcenter-admin");
    assert.equal(outputs.state, "Ok");
  });

  it("previews no changes right after up", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("refreshes without changes", async () => {
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("updates in place when a secret changes", async () => {
    const before = await engine.client().credentials.get("vcenter-admin");
    await project.setConfig({ "cred:password": { value: "second-password", secret: true } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.output, /~ 1 to update/);
    assert.doesNotMatch(preview.output, /to replace/);
    await project.ok(["up", "--yes"]);
    const after = await engine.client().credentials.get("vcenter-admin");
    assert.equal(after?.createdAt, before?.createdAt, "same credential, not a new one");
    assert.ok(after!.updatedAt > before!.updatedAt, "the engine recorded a write");
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("replaces the credential when its id changes", async () => {
    await project.setConfig({ "cred:credentialId": { value: "vcenter-admin-2" } });
    const preview = await project.ok(["preview"]);
    assert.match(preview.output, /\+-\s*1 to replace/);
    await project.ok(["up", "--yes"]);
    assert.ok(await engine.client().credentials.get("vcenter-admin-2"));
    assert.equal(await engine.client().credentials.get("vcenter-admin"), undefined, "the old one is deleted");
  });

  it("shows an out-of-band change of a plain field as drift on refresh", async () => {
    const current = await engine.client().credentials.get("vcenter-admin-2");
    await engine.client().credentials.update("vcenter-admin-2", { type: "UsernamePassword", username: "someone-else", password: "x" });
    const refresh = await project.run(["refresh", "--yes", "--expect-no-changes"]);
    assert.notEqual(refresh.code, 0, "refresh must report the drift");
    assert.match(refresh.output, /username/);
    // The program still says the old user name: the next up puts it back.
    await project.ok(["up", "--yes"]);
    assert.equal((await engine.client().credentials.get("vcenter-admin-2"))?.username, current?.username);
  });

  it("drops a credential deleted out of band from state on refresh", async () => {
    assert.equal(await engine.client().credentials.delete("vcenter-admin-2"), true);
    await project.ok(["refresh", "--yes"]);
    const types = (await project.resources()).map((r) => r.type);
    assert.ok(!types.includes(CREDENTIAL), `state still has ${types}`);
    // up recreates it
    await project.ok(["up", "--yes"]);
    assert.ok(await engine.client().credentials.get("vcenter-admin-2"));
  });

  it("removes the credential from the engine on destroy", async () => {
    await project.ok(["destroy", "--yes"]);
    assert.equal(await engine.client().credentials.get("vcenter-admin-2"), undefined);
    assert.deepEqual(await engine.client().credentials.list(), []);
  });
});
