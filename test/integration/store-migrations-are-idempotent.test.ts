import assert from "node:assert/strict";
import { Kysely, sql } from "kysely";
import { dialectOf } from "../../engine/store/database";
import { columnTypes } from "../../engine/store/dialect";
import { Database } from "../../engine/store/schema";
import { forEachBackend } from "../helpers/stores";

const MIGRATIONS = ["0001-credentials", "0002-api-clients", "0003-jobs", "0004-job-client-tokens"];

async function appliedMigrations(db: Kysely<Database>): Promise<string[]> {
  const rows = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db);
  return rows.rows.map((r) => r.name);
}

forEachBackend("store: migrations", (backend) => {
  it("applies every migration once and leaves data alone when the database is opened again", async () => {
    const target = await backend.fresh();
    const first = await target.open();
    assert.equal(dialectOf(first), backend.dialect);
    assert.deepEqual(await appliedMigrations(first), MIGRATIONS);
    await first.insertInto("meta").values({ key: "k", value: "v" }).execute();
    await first.destroy();

    for (let i = 0; i < 2; i++) {
      const again = await target.open();
      assert.deepEqual(await appliedMigrations(again), MIGRATIONS);
      assert.deepEqual(await again.selectFrom("meta").selectAll().where("key", "=", "k").execute(), [{ key: "k", value: "v" }]);
      await again.destroy();
    }
  });

  it("creates binary columns of the dialect's byte type, read back as Buffers", async () => {
    const db = await (await backend.fresh()).open();
    const tables = await db.introspection.getTables();
    const credentials = tables.find((t) => t.name === "credentials");
    const ciphertext = credentials?.columns.find((c) => c.name === "secret_ciphertext");
    assert.equal(ciphertext?.dataType.toLowerCase(), backend.dialect === "postgres" ? "bytea" : "blob");
    const bytes = Buffer.from([0, 1, 254, 255, 0]);
    await db
      .insertInto("credentials")
      .values({
        customer_id: "c", id: "x", type: "t", name: null, public_fields: "{}",
        secret_iv: bytes, secret_tag: bytes, secret_ciphertext: bytes,
        created_at: "2026-01-01T00:00:00.000Z", updated_at: "2026-01-01T00:00:00.000Z",
      })
      .execute();
    const row = await db.selectFrom("credentials").select("secret_ciphertext").executeTakeFirstOrThrow();
    assert.ok(Buffer.isBuffer(row.secret_ciphertext));
    assert.deepEqual(row.secret_ciphertext, bytes);
  });

  it("gives later migrations column types that work, bigints read back as numbers", async () => {
    const db = (await (await backend.fresh()).open()) as unknown as Kysely<any>;
    const t = columnTypes(db);
    await db.schema
      .createTable("probe")
      .addColumn("id", t.key, (c) => c.primaryKey())
      .addColumn("size", t.bigint, (c) => c.notNull())
      .addColumn("n", t.integer, (c) => c.notNull())
      .addColumn("data", t.binary)
      .addColumn("note", t.text)
      .execute();
    const big = 2 ** 40 + 3; // more than 32 bits: a disk size in bytes
    await db.insertInto("probe").values({ id: "b", size: big, n: 7, data: Buffer.from("x"), note: "y" }).execute();
    await db.insertInto("probe").values({ id: "B", size: 1, n: 1, data: null, note: null }).execute();
    const rows = await db.selectFrom("probe").selectAll().orderBy("id").execute();
    assert.deepEqual(rows.map((r) => r.id), ["B", "b"]);
    assert.strictEqual(rows[1].size, big);
    assert.strictEqual(rows[1].n, 7);
    assert.deepEqual(rows[1].data, Buffer.from("x"));
  });
});
