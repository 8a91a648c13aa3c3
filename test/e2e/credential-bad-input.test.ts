import { strict as assert } from "assert";
import * as path from "path";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { PulumiProject } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/credential");
type Config = Record<string, { value: string; secret?: boolean }>;

describe("Credential bad input fails at preview, naming the property", function () {
  this.timeout(600_000);
  let engine: EngineProcess;
  const projects: PulumiProject[] = [];

  before(async () => (engine = await EngineProcess.start()));
  after(async () => {
    for (const p of projects) p.dispose();
    await engine?.stop();
  });

  function project(): PulumiProject {
    const p = new PulumiProject(PROGRAM);
    projects.push(p);
    return p;
  }

  async function preview(config: Config) {
    const p = project();
    await p.init({ ...engine.providerConfig(), ...config });
    const result = await p.run(["preview"]);
    assert.notEqual(result.code, 0, `preview should fail:\n${result.output}`);
    assert.deepEqual(await engine.client().credentials.list(), [], "nothing was created");
    return result.output;
  }

  it("rejects an unknown credential type and lists the allowed ones", async () => {
    const out = await preview({ "cred:type": { value: "Kerberos" }, "cred:username": { value: "u" } });
    assert.match(out, /type must be one of UsernamePassword, Aws, Azure, Gcp; got "Kerberos"/);
  });

  it("names a missing required field", async () => {
    const out = await preview({ "cred:type": { value: "UsernamePassword" }, "cred:username": { value: "u" } });
    assert.match(out, /password is required for a UsernamePassword credential/);
  });

  it("names a field that belongs to another type", async () => {
    const out = await preview({
      "cred:type": { value: "Azure" },
      "cred:tenantId": { value: "t" },
      "cred:clientId": { value: "c" },
      "cred:clientSecret": { value: "s", secret: true },
      "cred:username": { value: "u" },
    });
    assert.match(out, /username is not used by a Azure credential; it takes tenantId, clientId, clientSecret/);
  });

  it("refuses a secret where a plain identifier is expected", async () => {
    const out = await preview({
      "cred:type": { value: "UsernamePassword" },
      "cred:username": { value: "u" },
      "cred:password": { value: "p", secret: true },
      "cred:credentialId": { value: "my-cred" },
      "cred:credentialIdAsSecret": { value: "true" },
    });
    assert.match(out, /credentialId must be a plain value, not a secret/);
  });

  it("refuses an id the wallet cannot store", async () => {
    const out = await preview({
      "cred:type": { value: "UsernamePassword" },
      "cred:username": { value: "u" },
      "cred:password": { value: "p", secret: true },
      "cred:credentialId": { value: "../etc" },
    });
    assert.match(out, /credentialId "\.\.\/etc" is not valid/);
  });

  it("reports an unauthenticated call with the engine's code and how to fix it", async () => {
    const p = project();
    await p.init({
      ...engine.providerConfig(),
      "imageport:clientSecret": { value: "not-the-secret", secret: true },
      "cred:type": { value: "UsernamePassword" },
      "cred:username": { value: "u" },
      "cred:password": { value: "p", secret: true },
    });
    const result = await p.run(["up", "--yes"]);
    assert.notEqual(result.code, 0);
    assert.match(result.output, /401 UNAUTHENTICATED/);
    assert.ok(!result.output.includes("not-the-secret"), "the client secret is not echoed");
    assert.deepEqual(await engine.client().credentials.list(), []);
  });
});
