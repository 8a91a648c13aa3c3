import assert from "node:assert/strict";
import { TOKEN_REQUESTS_PER_MINUTE } from "../../engine/api/token";
import { startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";

describe("the token endpoint is bounded per client and address, so it cannot be used to burn the engine's CPU", function () {
  this.timeout(120_000);
  let engine: TestEngine;
  before(async () => (engine = await startTestEngine()));
  after(async () => engine?.close({ removeData: true }));

  const ask = (clientId: string, secret: string) =>
    engine.request("POST", `/cctrustoauth2/${engine.customerId}/tokens/clients`, {
      body: new URLSearchParams({ grant_type: "client_credentials", client_id: clientId, client_secret: secret }).toString(),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });

  it("answers 429 TOO_MANY_REQUESTS with Retry-After past the limit, without checking the secret, and other clients still get tokens", async () => {
    for (let i = 0; i < TOKEN_REQUESTS_PER_MINUTE; i++) assert.equal((await ask("guesser", `wrong-${i}`)).status, 401);
    const limited = await ask("guesser", "wrong-again");
    assert.equal(limited.status, 429, limited.text);
    assert.equal(limited.json.error.code, "TOO_MANY_REQUESTS");
    assert.ok(Number(limited.headers.get("retry-after")) > 0, "Retry-After says when to come back");
    const other = await ask(TEST_CLIENT.clientId, TEST_CLIENT.clientSecret);
    assert.equal(other.status, 200, other.text);
  });
});
