import assert from "node:assert/strict";
import { TokenIssuer } from "../../engine/auth/tokens";

describe("engine: bearer tokens", () => {
  it("verifies a token it issued, with its customer and client, until it expires", () => {
    let now = 1_000_000;
    const tokens = new TokenIssuer(3600, () => now);
    const { token, expiresIn } = tokens.issue("cust", "client-1");
    assert.equal(expiresIn, 3600);
    assert.deepEqual(tokens.verify(token), { customerId: "cust", clientId: "client-1", role: "user", expiresAt: now + 3_600_000 });
    now += 3_599_999;
    assert.ok(tokens.verify(token));
    now += 1;
    assert.equal(tokens.verify(token), undefined);
  });

  it("rejects tokens it never issued and issues a different token every time", () => {
    const tokens = new TokenIssuer();
    const a = tokens.issue("cust", "c").token;
    const b = tokens.issue("cust", "c").token;
    assert.notEqual(a, b);
    assert.equal(tokens.verify("made-up"), undefined);
    assert.equal(tokens.verify(a.slice(0, -1)), undefined);
  });
});
