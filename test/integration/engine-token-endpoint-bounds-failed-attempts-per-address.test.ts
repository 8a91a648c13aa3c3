import assert from "node:assert/strict";
import { FAILED_TOKEN_REQUESTS_PER_MINUTE } from "../../engine/api/token";
import { startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";

describe("the token endpoint bounds failed attempts per address, so it cannot be used to guess secrets or burn the engine's CPU", function () {
  this.timeout(120_000);
  let engine: TestEngine;
  before(async () => (engine = await startTestEngine()));
  after(async () => engine?.close({ removeData: true }));

  const ask = (clientId: string, secret: string) =>
    engine.request("POST", `/cctrustoauth2/${engine.customerId}/tokens/clients`, {
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });

  it("never slows a caller with the right secret", async () => {
    for (let i = 0; i < 3 * FAILED_TOKEN_REQUESTS_PER_MINUTE; i++) assert.equal((await ask(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret)).status, 200);
  });

  it("answers 429 TOO_MANY_REQUESTS with Retry-After past the limit of failures, whatever client ids are tried, without checking the secret", async () => {
    for (let i = 0; i < FAILED_TOKEN_REQUESTS_PER_MINUTE; i++) assert.equal((await ask(`guesser-${i}`, `wrong-${i}`)).status, 401);
    const limited = await ask(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret);
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.json.error.code, "TOO_MANY_REQUESTS");
    assert.ok(Number(limited.headers.get("retry-after")) > 0, "Retry-After says when to come back");
  });
});
