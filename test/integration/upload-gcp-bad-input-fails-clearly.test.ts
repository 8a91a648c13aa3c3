// Bad $upload requests for GCP: what can be known at submission is a 400 naming the field;
// what only the connector can see (the bucket, an existing image, a refused key, the endpoint)
// fails the job with a clear code, and the service-account key appears nowhere.

import * as assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { GCP_BUCKET, GCP_CLIENT_EMAIL, GCP_CREDENTIAL_ID, GCP_PROJECT, GcpWorld, startGcpWorld } from "../helpers/gcp-world";
import { freePort } from "../helpers/emulator-process";

const MIB = 1024 * 1024;

describe("upload to GCP: bad input fails clearly", function () {
  this.timeout(120_000);
  let gcp: GcpWorld;
  let body: Record<string, unknown>;

  before(async () => {
    gcp = await startGcpWorld();
    const { world } = gcp;
    await makeSparseDisk({ path: join(world.inputDir, "d.raw"), format: "raw", virtualSize: 8 * MIB, dataBytes: MIB, seed: "gcp-bad" });
    body = {
      platform: "gcp",
      platformCredentialId: GCP_CREDENTIAL_ID,
      bucket: GCP_BUCKET,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "d.raw",
    };
  });
  after(async () => {
    await gcp?.close();
  });

  const fieldsOf = (res: { json: any }) => res.json.error.fields.map((f: any) => f.field);

  it("a missing bucket is a 400 naming bucket", async () => {
    const { bucket: _, ...noBucket } = body;
    const res = await gcp.world.submit("upload", noBucket);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "VALIDATION_FAILED");
    assert.deepEqual(fieldsOf(res), ["bucket"]);
  });

  it("a credential of another type is a 400 naming platformCredentialId", async () => {
    const res = await gcp.world.submit("upload", { ...body, platformCredentialId: "smb" });
    assert.equal(res.status, 400);
    assert.deepEqual(fieldsOf(res), ["platformCredentialId"]);
    assert.match(res.json.error.fields[0].message, /Gcp credential.*UsernamePassword/);
  });

  it("an invalid image name, aws-only fields, a bad label and a bad location are 400s naming each field", async () => {
    const name = await gcp.world.submit("upload", { ...body, targetImageName: "Web01_Golden" });
    assert.equal(name.status, 400);
    assert.deepEqual(fieldsOf(name), ["targetImageName"]);
    const aws = await gcp.world.submit("upload", { ...body, amiName: "web01-ami", tags: { Team: "vdi" }, region: "us-central-1x" });
    assert.equal(aws.status, 400);
    assert.deepEqual(fieldsOf(aws).sort(), ["amiName", "region", "tags.Team"]);
    // And the other way round: gcp fields on an aws request.
    const other = await gcp.world.submit("upload", { ...body, platform: "aws", region: "us-east-1" });
    assert.equal(other.status, 400);
    assert.ok(fieldsOf(other).includes("bucket"));
  });

  it("a bucket that does not exist fails the job with PLATFORM_NOT_FOUND naming it", async () => {
    const job = await gcp.world.run("upload", { ...body, bucket: "no-such-bucket" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_NOT_FOUND");
    assert.match(job.error!.message, /no-such-bucket.*field bucket/);
  });

  it("an existing image name fails the job with OUTPUT_EXISTS before anything is uploaded", async () => {
    gcp.gce.images.set("taken", { name: "taken", id: "1", status: "READY", rawDisk: { source: "https://storage.googleapis.com/x/y", containerType: "TAR" } });
    const job = await gcp.world.run("upload", { ...body, targetImageName: "taken" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "OUTPUT_EXISTS");
    assert.equal(job.steps.find((s) => s.name === "validate")?.status, "failed");
    assert.equal(gcp.gce.images.get("taken")?.rawDisk.source, "https://storage.googleapis.com/x/y", "the existing image is untouched");
    assert.deepEqual(await gcp.gcs.listObjects(GCP_BUCKET), []);
  });

  it("a key the token endpoint refuses fails with PLATFORM_ACCESS_DENIED, and the key appears nowhere", async () => {
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const serviceAccountKey = JSON.stringify({ type: "service_account", project_id: GCP_PROJECT, private_key: other, client_email: GCP_CLIENT_EMAIL });
    const cred = await gcp.world.engine.api("POST", "/ips/credentials", { id: "gcp-wrong-key", type: "Gcp", serviceAccountKey });
    assert.equal(cred.status, 201, cred.text);
    const job = await gcp.world.run("upload", { ...body, platformCredentialId: "gcp-wrong-key" });
    assert.equal(job.status, "failed");
    assert.equal(job.error?.code, "PLATFORM_ACCESS_DENIED");
    assert.match(job.error!.message, /invalid_grant.*platformCredentialId/);
    const keyBody = other.split("\n")[5]!;
    assert.ok(!JSON.stringify(job).includes(keyBody));
    const log = readFileSync(join(gcp.world.engine.dataDir, "logs", "imageportd.log"), "utf8");
    assert.ok(!log.includes(keyBody), "the refused key is not in the engine log");
  });

  it("an unreachable Compute endpoint fails with PLATFORM_UNREACHABLE naming the setting, and the key appears nowhere", async () => {
    const closedPort = await freePort();
    const saved = process.env.IMAGEPORT_GCE_ENDPOINT_URL;
    process.env.IMAGEPORT_GCE_ENDPOINT_URL = `http://127.0.0.1:${closedPort}`;
    try {
      const job = await gcp.world.run("upload", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, "PLATFORM_UNREACHABLE");
      assert.match(job.error!.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}.*IMAGEPORT_GCE_ENDPOINT_URL`));
      assert.equal(job.steps.find((s) => s.name === "validate")?.status, "failed");
      const keyBody = gcp.privateKeyPem.split("\n")[5]!;
      assert.ok(!JSON.stringify(job).includes(keyBody));
      const log = readFileSync(join(gcp.world.engine.dataDir, "logs", "imageportd.log"), "utf8");
      assert.ok(!log.includes(keyBody), "the private key is not in the engine log");
    } finally {
      process.env.IMAGEPORT_GCE_ENDPOINT_URL = saved;
    }
  });
});
