// Bad $upload requests for AWS: what can be known at submission is a 400 naming the field;
// what only the connector can see (the endpoint) fails the job with a clear code.
// A wrong secret key cannot be tested here: moto accepts any key pair (real AWS answers
// AuthFailure / SignatureDoesNotMatch, mapped to PLATFORM_ACCESS_DENIED).

import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeSparseDisk } from "../helpers/disks";
import { AWS_CREDENTIAL_ID, AwsWorld, startAwsWorld } from "../helpers/aws-world";
import { freePort } from "../helpers/emulator-process";
import { MOTO_KEYS, MOTO_REGION } from "../helpers/moto";

const MIB = 1024 * 1024;

describe("upload to AWS: bad input fails clearly", function () {
  this.timeout(120_000);
  let aws: AwsWorld;
  let body: Record<string, unknown>;

  before(async () => {
    aws = await startAwsWorld();
    const { world } = aws;
    await makeSparseDisk({ path: join(world.inputDir, "d.vhdx"), format: "vhdx", virtualSize: 8 * MIB, dataBytes: MIB, seed: "aws-bad" });
    body = {
      platform: "aws",
      region: MOTO_REGION,
      platformCredentialId: AWS_CREDENTIAL_ID,
      inputStorageLocation: { location: world.fileLocation(world.inputDir) },
      inputImageFilename: "d.vhdx",
    };
  });
  after(async () => {
    await aws?.close();
  });

  it("a missing region is a 400 naming region", async () => {
    const { region: _, ...noRegion } = body;
    const res = await aws.world.submit("upload", noRegion);
    assert.equal(res.status, 400);
    assert.equal(res.json.error.code, "VALIDATION_FAILED");
    assert.deepEqual(res.json.error.fields.map((f: any) => f.field), ["region"]);
  });

  it("a credential of another type is a 400 naming platformCredentialId", async () => {
    const res = await aws.world.submit("upload", { ...body, platformCredentialId: "smb" });
    assert.equal(res.status, 400);
    assert.deepEqual(res.json.error.fields.map((f: any) => f.field), ["platformCredentialId"]);
    assert.match(res.json.error.fields[0].message, /Aws credential.*UsernamePassword/);
  });

  it("an unreachable endpoint fails the job with PLATFORM_UNREACHABLE naming the endpoint, and the secret key appears nowhere", async () => {
    const closedPort = await freePort();
    process.env.IMAGEPORT_AWS_ENDPOINT_URL = `http://127.0.0.1:${closedPort}`;
    try {
      const job = await aws.world.run("upload", body);
      assert.equal(job.status, "failed");
      assert.equal(job.error?.code, "PLATFORM_UNREACHABLE");
      assert.match(job.error!.message, new RegExp(`127\\.0\\.0\\.1:${closedPort}.*IMAGEPORT_AWS_ENDPOINT_URL`));
      assert.equal(job.steps.find((s) => s.name === "validate")?.status, "failed");
      assert.ok(!JSON.stringify(job).includes(MOTO_KEYS.secretAccessKey));
      const log = readFileSync(join(aws.world.engine.dataDir, "logs", "imageportd.log"), "utf8");
      assert.ok(!log.includes(MOTO_KEYS.secretAccessKey), "the secret key is not in the engine log");
    } finally {
      process.env.IMAGEPORT_AWS_ENDPOINT_URL = aws.moto.url;
    }
  });
});
