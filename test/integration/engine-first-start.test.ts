import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEngine } from "../../engine";

// With no options but a data directory, the engine creates its own key and API client and
// writes structured request logs without credentials in them.

async function tokenFor(url: string, client: { customerId: string; clientId: string; clientSecret: string }) {
  const res = await fetch(`${url}/cctrustoauth2/${client.customerId}/tokens/clients`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "client_credentials", client_id: client.clientId, client_secret: client.clientSecret }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

describe("engine: first start", function () {
  this.timeout(15_000);
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), "imageport-first-start-"))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("writes client.json and master.key owner-only, and the client gets a token", async () => {
    const engine = await createEngine({ dataDir, port: 0 });
    try {
      assert.match(engine.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      for (const file of ["client.json", "master.key", "imageport.db"]) {
        assert.equal(statSync(join(dataDir, file)).mode & 0o777, 0o600, file);
      }
      const client = JSON.parse(readFileSync(join(dataDir, "client.json"), "utf8"));
      assert.equal(client.customerId, "local");
      const token = await tokenFor(engine.url, client);
      const res = await fetch(`${engine.url}/ips/credentials`, {
        headers: { authorization: `CwsAuth Bearer=${token}`, "citrix-customerid": "local" },
      });
      assert.equal(res.status, 200);
    } finally {
      await engine.close();
    }
  });

  it("keeps the same client across restarts and makes a new one for another customer id", async () => {
    await (await createEngine({ dataDir, port: 0 })).close();
    const first = readFileSync(join(dataDir, "client.json"), "utf8");
    await (await createEngine({ dataDir, port: 0 })).close();
    assert.equal(readFileSync(join(dataDir, "client.json"), "utf8"), first);

    const engine = await createEngine({ dataDir, port: 0, customerId: "acme" });
    try {
      const client = JSON.parse(readFileSync(join(dataDir, "client.json"), "utf8"));
      assert.equal(client.customerId, "acme");
      await tokenFor(engine.url, client);
    } finally {
      await engine.close();
    }
  });

  it("logs one JSON line per request with method, path, status, duration and request id, and no credentials", async () => {
    const engine = await createEngine({ dataDir, port: 0 });
    const client = JSON.parse(readFileSync(join(dataDir, "client.json"), "utf8"));
    let token: string;
    try {
      token = await tokenFor(engine.url, client);
      await fetch(`${engine.url}/ips/credentials?type=Aws`, {
        headers: { authorization: `CwsAuth Bearer=${token}`, "citrix-customerid": "local" },
      });
    } finally {
      await engine.close();
    }
    const text = readFileSync(join(dataDir, "logs", "imageportd.log"), "utf8");
    const lines = text.trim().split("\n").map((l) => JSON.parse(l));
    const list = lines.find((l) => l.url === "/ips/credentials");
    assert.ok(list, text);
    assert.equal(list.method, "GET");
    assert.equal(list.status, 200);
    assert.equal(typeof list.durationMs, "number");
    assert.equal(typeof list.reqId, "string");
    assert.equal(typeof list.time, "string");
    for (const secret of [token, client.clientSecret, "CwsAuth", "type=Aws"]) {
      assert.ok(!text.includes(secret), `log contains ${secret}`);
    }
  });
});
