import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { EngineError } from "../../engine/errors";
import { SecretBox } from "../../engine/secrets/secret-box";
import { openDatabase } from "../../engine/store/database";
import { verifyMasterKey } from "../../engine/store/key-check";
import { startTestEngine, TestEngine } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";

// Several engines (say, behind a load balancer) started at the same moment on one empty
// PostgreSQL database: the migrations run once, and every engine comes up and serves.

describe("store: concurrent first starts on one PostgreSQL database", function () {
  this.timeout(60_000);
  const pg = usePostgres();
  let dirs: string[] = [];
  let engines: TestEngine[] = [];
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.close()));
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    dirs = [];
    engines = [];
  });

  /** A data dir holding the given master key: engines sharing a database must share the key. */
  function dataDirWithKey(key: Buffer): string {
    const dir = mkdtempSync(join(tmpdir(), "imageport-pg-engine-"));
    dirs.push(dir);
    writeFileSync(join(dir, "master.key"), key.toString("base64") + "\n", { mode: 0o600 });
    return dir;
  }

  it("migrates once when four openDatabase calls race on an empty database", async () => {
    for (let round = 0; round < 3; round++) {
      const url = await pg.newDatabase();
      const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase(dataDirWithKey(randomBytes(32)), { databaseUrl: url })));
      try {
        const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(dbs[0]!);
        assert.deepEqual(applied.rows.map((r) => r.name), ["0001-credentials", "0002-api-clients", "0003-jobs", "0004-job-client-tokens"]);
      } finally {
        await Promise.all(dbs.map((db) => db.destroy()));
      }
    }
  });

  it("lets engines racing to record the master-key check all pass, and still refuses another key", async () => {
    // Migrated first, then the checks run at once: every engine finds no check value and inserts one.
    const url = await pg.newDatabase();
    const dbs = await Promise.all([1, 2, 3, 4].map(() => openDatabase(dataDirWithKey(randomBytes(32)), { databaseUrl: url })));
    try {
      const box = new SecretBox(randomBytes(32));
      await Promise.all(dbs.map((db) => verifyMasterKey(db, box)));
      await assert.rejects(
        verifyMasterKey(dbs[0]!, new SecretBox(randomBytes(32))),
        (err: unknown) => err instanceof EngineError && err.code === "MASTER_KEY_INVALID",
      );
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });

  it("brings up two engines started together, each seeing what the other stores", async () => {
    for (let round = 0; round < 3; round++) {
      const url = await pg.newDatabase();
      const key = randomBytes(32);
      const started = await Promise.allSettled([
        startTestEngine({ dataDir: dataDirWithKey(key), databaseUrl: url }),
        startTestEngine({ dataDir: dataDirWithKey(key), databaseUrl: url }),
      ]);
      for (const s of started) if (s.status === "fulfilled") engines.push(s.value);
      for (const s of started) if (s.status === "rejected") throw s.reason;
      const [a, b] = engines.slice(-2) as [TestEngine, TestEngine];

      const created = await a.api("POST", "/ips/credentials", { id: `shared-${round}`, type: "UsernamePassword", username: "u", password: "pw" });
      assert.equal(created.status, 201, created.text);
      const seen = await b.api("GET", `/ips/credentials/shared-${round}`);
      assert.equal(seen.status, 200, seen.text);
      assert.equal(seen.json.username, "u");
    }
  });
});
