import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Client } from "pg";
import { DB_FILE } from "../../engine/store/database";
import { makeDataDir, startTestEngine, TestEngine } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";

// createEngine({ databaseUrl }) keeps its store in PostgreSQL: the credentials API works end to
// end, the rows are in that database, and no SQLite file is made in the data directory.

async function credentialIds(url: string): Promise<string[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ id: string }>("select id from credentials order by id");
    return res.rows.map((r) => r.id);
  } finally {
    await client.end();
  }
}

describe("engine: credentials API on PostgreSQL", function () {
  this.timeout(60_000);
  const pg = usePostgres();
  let engine: TestEngine | undefined;
  afterEach(async () => {
    await engine?.close({ removeData: true });
    engine = undefined;
  });

  it("creates, reads, lists, replaces and deletes a credential held in the PostgreSQL database", async () => {
    const url = await pg.newDatabase();
    engine = await startTestEngine({ dataDir: makeDataDir(), databaseUrl: url });

    const created = await engine.api("POST", "/ips/credentials", { id: "pg-cred", type: "UsernamePassword", username: "svc", password: "pw" });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(await credentialIds(url), ["pg-cred"]);
    assert.equal(existsSync(join(engine.dataDir, DB_FILE)), false, "no SQLite file when a database URL is given");

    const got = await engine.api("GET", "/ips/credentials/pg-cred");
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.username, "svc");
    assert.equal(got.json.password, undefined);

    assert.deepEqual(got.json, created.json);

    const list = await engine.api("GET", "/ips/credentials");
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items, [created.json]);

    const replaced = await engine.api("PUT", "/ips/credentials/pg-cred", { type: "UsernamePassword", username: "svc2", password: "pw2" });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.json.username, "svc2");
    assert.ok(replaced.json.updatedAt > created.json.updatedAt);

    const deleted = await engine.api("DELETE", "/ips/credentials/pg-cred");
    assert.equal(deleted.status, 204, deleted.text);
    assert.deepEqual(await credentialIds(url), []);
    const gone = await engine.api("GET", "/ips/credentials/pg-cred");
    assert.equal(gone.status, 404, gone.text);
    assert.equal(gone.json.error.code, "CREDENTIAL_NOT_FOUND");
  });

  it("keeps credentials across a restart on a new data directory holding the same master key", async () => {
    const url = await pg.newDatabase();
    engine = await startTestEngine({ dataDir: makeDataDir(), databaseUrl: url });
    assert.equal((await engine.api("POST", "/ips/credentials", { id: "kept", type: "UsernamePassword", username: "u", password: "pw" })).status, 201);
    const key = readFileSync(join(engine.dataDir, "master.key"));
    await engine.close({ removeData: true });

    const dataDir = makeDataDir();
    writeFileSync(join(dataDir, "master.key"), key, { mode: 0o600 });
    engine = await startTestEngine({ dataDir, databaseUrl: url });
    const got = await engine.api("GET", "/ips/credentials/kept");
    assert.equal(got.status, 200, got.text);
    assert.equal(got.json.username, "u");
  });
});
