import { strict as assert } from "assert";
import * as crypto from "crypto";
import * as path from "path";
import { EngineProcess } from "../helpers/engine-process";
import { REPO_ROOT } from "../helpers/paths";
import { filesBelow, PulumiProject, PulumiResult } from "../helpers/pulumi-project";

const PROGRAM = path.join(REPO_ROOT, "test/e2e/programs/credential");

describe("Credential secrets never appear in plain text", function () {
  this.timeout(600_000);
  const canary = `canary-${crypto.randomBytes(12).toString("hex")}`;
  const updatedCanary = `${canary}-rotated`;
  let engine: EngineProcess;
  let project: PulumiProject;
  const seen: PulumiResult[] = [];
  const responses: string[] = [];

  before(async () => {
    engine = await EngineProcess.start();
    project = new PulumiProject(PROGRAM);
    await project.init({
      ...engine.providerConfig(),
      "cred:type": { value: "Aws" },
      "cred:credentialId": { value: "aws-main" },
      "cred:accessKeyId": { value: "AKIAEXAMPLE" },
      "cred:secretAccessKey": { value: canary, secret: true },
      "cred:sessionToken": { value: `${canary}-session`, secret: true },
    });
    seen.push(await project.ok(["up", "--yes"]));
    seen.push(await project.ok(["preview", "--diff", "--expect-no-changes"]));
    seen.push(await project.ok(["refresh", "--yes"]));
    await project.setConfig({ "cred:secretAccessKey": { value: updatedCanary, secret: true } });
    seen.push(await project.ok(["up", "--yes", "--diff"]));
    seen.push(await project.ok(["stack", "export"]));
    // What any API caller can see.
    const headers = await authHeaders(engine);
    for (const url of ["/ips/credentials", "/ips/credentials/aws-main", "/ips/credentials?type=Aws"]) {
      responses.push(await (await fetch(engine.url + url, { headers })).text());
    }
  });
  after(async () => {
    project?.dispose();
    await engine?.stop();
  });

  it("is encrypted in the stack's state file", () => {
    const files = filesBelow(project.backend);
    assert.ok(files.some((f) => f.file.endsWith(".json")), "the backend has a checkpoint");
    assertAbsent(files, canary);
  });

  it("is absent from the engine's database, key, client and log files", () => {
    const files = filesBelow(engine.dataDir);
    assert.ok(files.some((f) => f.file.endsWith("imageport.db")), "the engine has a database");
    assert.ok(files.some((f) => f.file.includes("logs")), "the engine wrote logs");
    assertAbsent(files, canary);
  });

  it("is absent from Pulumi's own files and from everything the CLI printed", () => {
    assertAbsent(filesBelow(project.home), canary);
    assertAbsent(filesBelow(project.dir), canary);
    for (const r of seen) assert.ok(!r.output.includes(canary), `pulumi printed the secret:\n${r.output}`);
  });

  it("is never returned by the API", () => {
    assert.ok(responses.every((body) => body.includes("aws-main")), "the API did answer");
    for (const body of responses) assert.ok(!body.includes(canary), `the API returned the secret: ${body}`);
  });

  it("reaches the program only as a secret output", async () => {
    const plain = JSON.parse((await project.ok(["stack", "output", "--json"])).stdout);
    assert.ok(!JSON.stringify(plain).includes(canary));
  });
});

function assertAbsent(files: { file: string; bytes: Buffer }[], needle: string): void {
  for (const { file, bytes } of files) {
    assert.ok(!bytes.includes(needle), `${file} contains the secret in plain text`);
    assert.ok(!bytes.includes(Buffer.from(needle).toString("base64").slice(0, 20)), `${file} contains the secret base64-encoded`);
  }
}

async function authHeaders(engine: EngineProcess): Promise<Record<string, string>> {
  const { customerId, clientId, clientSecret } = engine.credentials;
  const res = await fetch(`${engine.url}/cctrustoauth2/${customerId}/tokens/clients`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: clientSecret }),
  });
  const token = ((await res.json()) as { access_token: string }).access_token;
  return { Authorization: `CwsAuth Bearer=${token}`, "Citrix-CustomerId": customerId };
}
