import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Client } from "pg";
import { loadMasterKey } from "../../engine/secrets/master-key";
import { SecretBox } from "../../engine/secrets/secret-box";
import { KyselyCredentialStore } from "../../engine/store/credential-store";
import { openDatabase } from "../../engine/store/database";
import { makeDataDir, startTestEngine, TestEngine, TEST_CLIENT } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";

// With the store on PostgreSQL, secret fields reach the database only as AES-GCM ciphertext, and
// the API client's secret only as a hash: a unique canary is absent from every row of every table.

const CANARY = `canary-${randomUUID()}`;

/** Every row of every table in the public schema, as PostgreSQL's text form of the row (bytea as hex). */
async function dumpTables(url: string): Promise<{ table: string; text: string }[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ name: string }>(
      "select table_name as name from information_schema.tables where table_schema = 'public' order by 1",
    );
    const out: { table: string; text: string }[] = [];
    for (const { name } of tables.rows) {
      const rows = await client.query<{ row: string }>(`select t::text as row from "${name}" t`);
      out.push({ table: name, text: rows.rows.map((r) => r.row).join("\n") });
    }
    return out;
  } finally {
    await client.end();
  }
}

describe("store: secrets on PostgreSQL are stored as ciphertext only", function () {
  this.timeout(60_000);
  const pg = usePostgres();
  let engine: TestEngine | undefined;
  afterEach(async () => {
    await engine?.close({ removeData: true });
    engine = undefined;
  });

  it("keeps the canary password and the client secret out of every table, yet decrypts it on read", async () => {
    const url = await pg.newDatabase();
    engine = await startTestEngine({ dataDir: makeDataDir(), databaseUrl: url });
    const created = await engine.api("POST", "/ips/credentials", {
      id: "canary", type: "Aws", accessKeyId: "AKIAPLAIN", secretAccessKey: CANARY, sessionToken: `st-${CANARY}`,
    });
    assert.equal(created.status, 201, created.text);
    assert.ok(!created.text.includes(CANARY));

    const dump = await dumpTables(url);
    const all = dump.map((d) => d.text).join("\n");
    // Controls: the dump sees the stored rows, including non-secret fields in clear.
    assert.deepEqual(dump.map((d) => d.table).filter((t) => !t.startsWith("kysely_")), ["api_clients", "connectors", "credentials", "jobs", "meta", "resource_locations"]);
    assert.ok(all.includes("AKIAPLAIN"), "the dump should show the plain accessKeyId");
    assert.ok(all.includes(TEST_CLIENT.clientId), "the dump should show the API client id");
    for (const secret of [CANARY, TEST_CLIENT.clientSecret]) {
      assert.ok(!all.includes(secret), `${secret} found in clear`);
      assert.ok(!all.includes(Buffer.from(secret).toString("hex")), `${secret} found hex-encoded (bytea)`);
    }

    // The engine itself can still use the secret: the ciphertext is not junk.
    const db = await openDatabase(engine.dataDir, { databaseUrl: url });
    try {
      const store = new KyselyCredentialStore(db, new SecretBox(loadMasterKey(engine.dataDir, {})));
      assert.equal((await store.getSecret(engine.customerId, "canary")).secretAccessKey, CANARY);
    } finally {
      await db.destroy();
    }
  });
});
