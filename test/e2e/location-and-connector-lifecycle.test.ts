import { strict as assert } from "assert";
import * as path from "path";
import { registerConnector } from "../../client/connectors";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/location-connector");
const LOCATION = "imageport:index:ResourceLocation";
const CONNECTOR = "imageport:index:ConnectorRegistration";
/** Pulumi's marker of a secret value in state. */
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";

describe("ResourceLocation and ConnectorRegistration lifecycle with the real Pulumi CLI", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  let project: PulumiProject;

  before(async () => {
    engine = await EngineProcess.start();
    project = new PulumiProject(PROGRAM);
    await project.init({ ...engine.providerConfig(), "lc:locationId": { value: "dc1" }, "lc:connectorName": { value: "worker-1" } });
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
  });

  async function stateOf(type: string, name = type === LOCATION ? "location" : "connector") {
    const found = (await project.resources()).find((r) => r.type === type && r.urn.endsWith(`::${name}`));
    assert.ok(found, `no ${type} ${name} in the state`);
    return found;
  }

  it("creates a location and a connector registration in it on up", async () => {
    await project.ok(["up", "--yes"]);
    const location = await engine.client().locations.get("dc1");
    assert.deepEqual([location?.name, location?.maxConcurrentJobs], ["dc1", 2], "name defaults to the id, 2 jobs");
    const connectors = await engine.client().connectorRegistrations.list({ resourceLocationId: "dc1" });
    assert.equal(connectors.length, 1);
    const outputs = await project.outputs();
    assert.equal(connectors[0].id, outputs.connectorId);
    assert.equal(connectors[0].name, "worker-1");
    assert.equal(outputs.status, "UNHEALTHY", "no connector runs yet");
    assert.equal(outputs.registered, false);
    assert.match(outputs.registrationCode as string, /^ipr_/);
    assert.ok(Date.parse(outputs.registrationExpiresAt as string) > Date.now());
  });

  it("keeps the registration code secret in the state and the plain outputs", async () => {
    const code = (await project.outputs()).registrationCode as string;
    const exported = (await project.ok(["stack", "export"])).stdout;
    assert.ok(!exported.includes(code), "stack export shows the code in plain text");
    const state = await stateOf(CONNECTOR);
    assert.equal((state.outputs!.registrationCode as Record<string, unknown>)["4dabf18193072939515e22adb298388d"], SECRET_SIG);
    const plain = (await project.ok(["stack", "output", "--json"])).stdout;
    assert.ok(!plain.includes(code), "stack output without --show-secrets shows the code");
  });

  it("previews and refreshes without changes right after up", async () => {
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("gives a code that registers a real connector; its heartbeat is recorded on refresh but is not drift", async () => {
    const outputs = await project.outputs();
    const registration = await registerConnector(engine.url, outputs.registrationCode as string, { hostname: "e2e-host" });
    assert.equal(registration.connectorId, outputs.connectorId);
    assert.equal(registration.resourceLocationId, "dc1");
    const view = await engine.client().connectorRegistrations.get(registration.connectorId);
    assert.deepEqual([view?.registered, view?.status], [true, "HEALTHY"]);
    // The status went UNHEALTHY -> HEALTHY: an output-only change, so refresh reports no drift...
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
    // ...yet records it in the state.
    const state = await stateOf(CONNECTOR);
    assert.equal(state.outputs!.registered, true);
    assert.ok(state.outputs!.lastHeartbeatAt, "the registration's heartbeat is recorded");
    assert.equal(state.outputs!.registrationExpiresAt, undefined, "a used code no longer expires");
    assert.ok(state.outputs!.registrationCode, "the code is kept from the state");
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("updates the location in place when maxConcurrentJobs changes", async () => {
    const before = await engine.client().locations.get("dc1");
    const connectorBefore = (await project.outputs()).connectorId;
    await project.setConfig({ "lc:locationMaxJobs": { value: "5" } });
    const preview = await project.ok(["preview", "--diff"]);
    assert.match(preview.output, /~ 1 to update/);
    assert.doesNotMatch(preview.output, /to replace/);
    await project.ok(["up", "--yes"]);
    const after = await engine.client().locations.get("dc1");
    assert.equal(after?.maxConcurrentJobs, 5);
    assert.equal(after?.createdAt, before?.createdAt, "the same location, not a new one");
    assert.equal((await project.outputs()).connectorId, connectorBefore, "the connector is untouched");
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("replaces the location, and the connector in it, when resourceLocationId changes", async () => {
    const oldConnector = (await project.outputs()).connectorId as string;
    await project.setConfig({ "lc:locationId": { value: "dc2" } });
    const preview = await project.ok(["preview"]);
    assert.match(preview.output, /\+-\s*2 to replace/);
    await project.ok(["up", "--yes"]);
    assert.equal((await engine.client().locations.get("dc2"))?.maxConcurrentJobs, 5);
    assert.equal(await engine.client().locations.get("dc1"), undefined, "the old location is deleted");
    assert.equal(await engine.client().connectorRegistrations.get(oldConnector), undefined, "the old registration is deleted");
    const outputs = await project.outputs();
    assert.notEqual(outputs.connectorId, oldConnector);
    assert.equal((await engine.client().connectorRegistrations.get(outputs.connectorId as string))?.resourceLocationId, "dc2");
    await project.ok(["preview", "--expect-no-changes"]);
  });

  it("imports a location created outside Pulumi, then previews no changes once the program declares it", async () => {
    await engine.client().locations.create("branch-office", { name: "Branch office", maxConcurrentJobs: 3 });
    // The Node.js language host of this toolchain cannot generate code (no GenerateProgram), so
    // the declaration comes from the inputs Read returned, which is what code generation would print.
    await project.ok(["import", LOCATION, "imported", "branch-office", "--yes", "--protect=false", "--generate-code=false"]);
    const imported = (await stateOf(LOCATION, "imported")) as { id?: string; inputs?: Record<string, unknown> };
    assert.equal(imported.id, "branch-office");
    assert.deepEqual(imported.inputs, { resourceLocationId: "branch-office", name: "Branch office", maxConcurrentJobs: 3 });
    await project.setConfig({
      "lc:importedId": { value: "branch-office" },
      "lc:importedName": { value: "Branch office" },
      "lc:importedMaxJobs": { value: "3" },
    });
    await project.ok(["preview", "--expect-no-changes"]);
    await project.ok(["refresh", "--yes", "--expect-no-changes"]);
  });

  it("refuses to delete a location that still has connectors, naming it, them and what to do", async () => {
    // A connector Pulumi does not manage keeps the location in use.
    const { connector } = await engine.client().connectorRegistrations.create({ name: "hand-made", resourceLocationId: "dc2" });
    const destroy = await project.run(["destroy", "--yes"]);
    assert.notEqual(destroy.code, 0, `destroy should fail:\n${destroy.output}`);
    assert.match(destroy.output, /Cannot delete resource location 'dc2'/);
    assert.match(destroy.output, new RegExp(`'hand-made' \\(${connector.id}\\)`));
    assert.match(destroy.output, /Delete them first/);
    assert.ok(await engine.client().locations.get("dc2"), "the location is still there");
    assert.ok((await stateOf(LOCATION)).id, "and still in the state");
    assert.equal(await engine.client().connectorRegistrations.delete(connector.id), true);
  });

  it("removes both from the engine on destroy", async () => {
    await project.ok(["destroy", "--yes"]);
    assert.deepEqual((await engine.client().locations.list()).map((l) => l.id), ["local"]);
    assert.deepEqual((await engine.client().connectorRegistrations.list()).filter((c) => !c.embedded), []);
    assert.deepEqual(await project.resources().then((rs) => rs.filter((r) => r.type === LOCATION || r.type === CONNECTOR)), []);
  });
});
