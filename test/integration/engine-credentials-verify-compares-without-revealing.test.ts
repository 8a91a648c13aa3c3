import assert from "node:assert/strict";
import { startTestEngine, TestEngine } from "../helpers/engine-harness";

// POST /ips/credentials/{id}/$verify: is this the stored secret? Answered without returning it.
describe("credential $verify tells a matching secret from a different one without revealing it", () => {
  let engine: TestEngine;
  before(async () => {
    engine = await startTestEngine();
    const created = await engine.api("POST", "/ips/credentials", { id: "aws", type: "Aws", accessKeyId: "AKIA1", secretAccessKey: "s3cret", sessionToken: "tok" });
    assert.equal(created.status, 201);
  });
  after(() => engine.close({ removeData: true }));

  it("answers true only when every given secret field equals the stored one", async () => {
    assert.deepEqual((await engine.api("POST", "/ips/credentials/aws/$verify", { secretAccessKey: "s3cret" })).json, { matches: true });
    assert.deepEqual((await engine.api("POST", "/ips/credentials/aws/$verify", { secretAccessKey: "s3cret", sessionToken: "tok" })).json, { matches: true });
    assert.deepEqual((await engine.api("POST", "/ips/credentials/aws/$verify", { secretAccessKey: "s3cret", sessionToken: "other" })).json, { matches: false });
    assert.deepEqual((await engine.api("POST", "/ips/credentials/aws/$verify", { secretAccessKey: "S3CRET" })).json, { matches: false });
  });

  it("refuses a field that is not a secret of the credential's type, naming it", async () => {
    const res = await engine.api("POST", "/ips/credentials/aws/$verify", { accessKeyId: "AKIA1" });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.json), /accessKeyId.*not a secret field of a Aws credential/);
  });

  it("answers 404 for an unknown credential and needs a token", async () => {
    assert.equal((await engine.api("POST", "/ips/credentials/nope/$verify", { password: "x" })).status, 404);
    assert.equal((await engine.request("POST", "/ips/credentials/aws/$verify", { body: { secretAccessKey: "s3cret" } })).status, 401);
  });
});
