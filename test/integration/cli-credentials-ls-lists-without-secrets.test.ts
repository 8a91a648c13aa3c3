import assert from "node:assert/strict";
import { startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";
import { cleanEnv, runCli } from "./cli-run";

// `imageport credentials ls` against a real engine, found through --endpoint and --data (its client.json).

const SECRETS = ["P@ssw0rd-never-print", "aws-secret-never-print-0123456789"];

describe("cli: imageport credentials ls", function () {
  this.timeout(60_000);
  let engine: TestEngine;
  let target: string[];

  before(async () => {
    engine = await startTestEngine();
    target = ["--endpoint", engine.engine.url, "--data", engine.dataDir];
    const made = [
      await engine.api("POST", "/ips/credentials", { id: "smb-share", type: "UsernamePassword", name: "exports", username: "svc", domain: "CORP", password: SECRETS[0] }),
      await engine.api("POST", "/ips/credentials", { id: "aws-prod", type: "Aws", accessKeyId: "AKIAEXAMPLE", secretAccessKey: SECRETS[1] }),
    ];
    for (const r of made) assert.equal(r.status, 201, r.text);
  });
  after(() => engine.close({ removeData: true }));

  it("prints a table of ids, types, names, states and identities, and no secret", async () => {
    const r = await runCli(["credentials", "ls", ...target]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^ID\s+TYPE\s+NAME\s+STATE\s+IDENTITY\s+CREATED$/);
    assert.ok(lines.some((l) => /^smb-share\s+UsernamePassword\s+exports\s+Ok\s+CORP\\svc\s+\d{4}-/.test(l)), r.stdout);
    assert.ok(lines.some((l) => /^aws-prod\s+Aws\s+-\s+Ok\s+AKIAEXAMPLE\s+/.test(l)), r.stdout);
    for (const s of SECRETS) assert.ok(!(r.stdout + r.stderr).includes(s), "a secret was printed");
  });

  it("filters by --type and prints JSON with --json", async () => {
    const r = await runCli(["credentials", "ls", "--type", "Aws", "--json", ...target]);
    assert.equal(r.code, 0, r.stderr);
    const items = JSON.parse(r.stdout);
    assert.deepEqual(items.map((c: { id: string }) => c.id), ["aws-prod"]);
    for (const s of SECRETS) assert.ok(!r.stdout.includes(s));
  });

  it("takes the options before the subcommand too, and credentials from the environment", async () => {
    const env = cleanEnv({ IMAGEPORT_ENDPOINT: engine.engine.url, IMAGEPORT_CUSTOMER_ID: engine.customerId, IMAGEPORT_CLIENT_ID: TEST_CLIENT.clientId, IMAGEPORT_CLIENT_SECRET: TEST_CLIENT.clientSecret });
    const r = await runCli(["credentials", "ls", "--json"], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).length, 2);
    const before = await runCli(["credentials", "--endpoint", engine.engine.url, "--data", engine.dataDir, "ls", "--type", "UsernamePassword", "--json"]);
    assert.deepEqual(JSON.parse(before.stdout).map((c: { id: string }) => c.id), ["smb-share"]);
  });

  it("refuses an unknown --type before calling the engine", async () => {
    const r = await runCli(["credentials", "ls", "--type", "Ftp", ...target]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Allowed choices are UsernamePassword, Aws, Azure, Gcp/);
  });

  it("prints the engine's code and message on a wrong client secret: no stack, no secret, exit 1", async () => {
    const wrong = "wrong-secret-never-print-42";
    const env = cleanEnv({ IMAGEPORT_CUSTOMER_ID: engine.customerId, IMAGEPORT_CLIENT_ID: TEST_CLIENT.clientId, IMAGEPORT_CLIENT_SECRET: wrong });
    const r = await runCli(["credentials", "ls", "--endpoint", engine.engine.url], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^imageport: UNAUTHENTICATED: The client id or client secret is wrong/);
    assert.equal(r.stderr.trimEnd().split("\n").length, 1, `more than one line:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "a stack trace was printed");
    assert.ok(!(r.stdout + r.stderr).includes(wrong), "the secret was printed");
    assert.ok(!(r.stdout + r.stderr).includes(TEST_CLIENT.clientSecret));
  });

  it("says which setting is missing when there is no client and no --data", async () => {
    const r = await runCli(["credentials", "ls", "--endpoint", engine.engine.url], cleanEnv({ HOME: engine.dataDir }));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^imageport: CONFIGURATION_INVALID: IMAGEPORT_CUSTOMER_ID: is not set; export IMAGEPORT_CUSTOMER_ID or CITRIX_CUSTOMER_ID, or pass --data/);
  });

  it("names the endpoint it could not reach", async () => {
    await engine.close();
    try {
      const r = await runCli(["credentials", "ls", ...target]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, new RegExp(`^imageport: CONNECTION_FAILED: Could not reach the imageport API at ${engine.engine.url.replace(/\./g, "\\.")}`));
    } finally {
      engine = await startTestEngine({ dataDir: engine.dataDir });
    }
  });
});
