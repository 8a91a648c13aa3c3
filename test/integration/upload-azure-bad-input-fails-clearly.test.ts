// Bad $upload requests for Azure: what can be known at submission is a 400 naming the field;
// what only the connector sees (a refused secret, a missing resource group, an existing disk,
// an unreachable endpoint) fails the job with a code, and the client secret appears nowhere.

import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { AZURE_SECRET, AzureWorld, ENV, startAzureWorld } from "../helpers/azure-world";
import { freePort } from "../helpers/emulator-process";

const MIB = 1024 * 1024;

describe("upload to Azure: bad input fails clearly", function () {
  this.timeout(120_000);
  let az: AzureWorld;
  let body: Record<string, unknown>;

  before(async () => {
    az = await startAzureWorld();
    const { world } = az;
    await makeSparseDisk({ path: join(world.inputDir, "d.vhdx"), format: "vhdx", virtualSize: 8 * MIB, dataBytes: MIB, seed: "azure-bad" });
    body = { ...az.target, inputStorageLocation: { location: world.fileLocation(world.inputDir) }, inputImageFilename: "d.vhdx" };
  });
  after(async () => {
    await az?.close();
  });

  const fieldsOf = (res: { json: any }) => res.json.error.fields.map((f: any) => f.field).sort();

  it("missing region, subscriptionId and resourceGroup are a 400 naming each", async () => {
    const { region: _r, subscriptionId: _s, resourceGroup: _g, ...rest } = body;
    const res = await az.world.submit("upload", rest);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "VALIDATION_FAILED");
    assert.deepEqual(fieldsOf(res), ["region", "resourceGroup", "subscriptionId"]);
  });

  it("malformed values and aws-only fields are a 400 naming each", async () => {
    const res = await az.world.submit("upload", {
      ...body,
      region: "us-east-1",
      subscriptionId: "not-a-guid",
      resourceGroup: "ends.with.dot.",
      targetDiskName: "-bad",
      imageName: "img",
      amiName: "my-ami",
    });
    assert.equal(res.status, 400);
    assert.deepEqual(fieldsOf(res), ["amiName", "imageName", "region", "resourceGroup", "subscriptionId", "targetDiskName"]);
    assert.match(res.json.error.fields.find((f: any) => f.field === "imageName").message, /createImage: true/);
  });

  it("a credential of another type is a 400 naming platformCredentialId; azure fields sent for aws are a 400 too", async () => {
    const res = await az.world.submit("upload", { ...body, platformCredentialId: "smb" });
    assert.equal(res.status, 400);
    assert.deepEqual(fieldsOf(res), ["platformCredentialId"]);
    assert.match(res.json.error.fields[0].message, /Azure credential.*UsernamePassword/);
    const aws = await az.world.submit("upload", { ...body, platform: "aws", region: "us-east-1" });
    assert.equal(aws.status, 400);
    assert.deepEqual(fieldsOf(aws), ["platformCredentialId", "resourceGroup", "subscriptionId"]);
  });

  it("a wrong client secret fails the job with PLATFORM_ACCESS_DENIED, and no secret appears in the job or the log", async () => {
    const wrong = "azure-wrong-secret-canary-51d0";
    const cred = await az.world.engine.api("POST", "/ips/credentials", { id: "azure-wrong", type: "Azure", ...AZURE_SECRET, clientSecret: wrong });
    assert.equal(cred.status, 201, cred.text);
    const job = await az.world.run("upload", { ...body, platformCredentialId: "azure-wrong" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_ACCESS_DENIED");
    assert.match(job.error!.message, /invalid_client.*AADSTS7000215/);
    assert.equal(job.steps.find((s) => s.name === "validate")?.status, "failed");
    const log = readFileSync(join(az.world.engine.dataDir, "logs", "imageportd.log"), "utf8");
    for (const secret of [wrong, AZURE_SECRET.clientSecret]) {
      assert.ok(!JSON.stringify(job).includes(secret), "not in the job");
      assert.ok(!log.includes(secret), "not in the engine log");
    }
  });

  it("an unknown resource group fails with PLATFORM_NOT_FOUND naming it", async () => {
    const job = await az.world.run("upload", { ...body, resourceGroup: "rg-nowhere" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_NOT_FOUND");
    assert.match(job.error!.message, /ResourceGroupNotFound.*rg-nowhere/);
  });

  it("a disk name already taken fails with OUTPUT_EXISTS and leaves that disk alone", async () => {
    const first = await az.world.run("upload", { ...body, targetDiskName: "taken" });
    assert.equal(first.status, "complete", JSON.stringify(first.error));
    const second = await az.world.run("upload", { ...body, targetDiskName: "taken" });
    assert.equal(second.status, "failed");
    assert.equal(second.error?.code, "OUTPUT_EXISTS");
    assert.match(second.error!.message, /disks\/taken already exists.*targetDiskName/);
    assert.equal(az.arm.disk("taken")?.tags["imageport-jobId"], first.id, "the first job's disk is still there");
  });

  it("an unreachable ARM endpoint fails the job with PLATFORM_UNREACHABLE naming the endpoint and its setting", async () => {
    const closedPort = await freePort();
    process.env[ENV.arm] = `http://127.0.0.1:${closedPort}`;
    try {
      const job = await az.world.run("upload", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, "PLATFORM_UNREACHABLE");
      assert.match(job.error!.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}.*IMAGEPORT_AZURE_ARM_ENDPOINT`));
    } finally {
      process.env[ENV.arm] = az.arm.url;
    }
  });
});
