import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kysely } from "kysely";
import { createEngine } from "../../engine";
import { EngineError } from "../../engine/errors";
import { loadMasterKey, MASTER_KEY_ENV } from "../../engine/secrets/master-key";
import { SecretBox } from "../../engine/secrets/secret-box";
import { KyselyCredentialStore } from "../../engine/store/credential-store";
import { Database } from "../../engine/store/schema";
import { forEachBackend, StoreTarget } from "../helpers/stores";

const hasCode = (code: string) => (err: unknown) => err instanceof EngineError && err.code === code;

const upInput = (id: string, password: string) => ({
  id,
  type: "UsernamePassword",
  publicFields: { username: "u" },
  secretFields: { password },
});

forEachBackend("engine: credential store", (backend) => {
  let target: StoreTarget;
  let db: Kysely<Database>;
  let store: KyselyCredentialStore;

  beforeEach(async () => {
    target = await backend.fresh();
    db = await target.open();
    store = new KyselyCredentialStore(db, new SecretBox(loadMasterKey(target.dataDir, {})));
  });

  it("returns the original secret after the database is closed and reopened", async () => {
    await store.create("c1", upInput("a", "pw-a"));
    await db.destroy();
    db = await target.open();
    store = new KyselyCredentialStore(db, new SecretBox(loadMasterKey(target.dataDir, {})));
    assert.deepEqual(await store.getSecret("c1", "a"), { password: "pw-a" });
    assert.deepEqual((await store.get("c1", "a")).publicFields, { username: "u" });
  });

  it("keeps customers apart", async () => {
    await store.create("c1", upInput("a", "pw"));
    assert.deepEqual(await store.list("c2"), []);
    await assert.rejects(store.get("c2", "a"), hasCode("CREDENTIAL_NOT_FOUND"));
    await store.create("c2", upInput("a", "pw-2")); // same id, other customer: allowed
    assert.deepEqual(await store.getSecret("c1", "a"), { password: "pw" });
  });

  it("refuses a duplicate id and reports missing ids with typed errors", async () => {
    await store.create("c1", upInput("a", "pw"));
    await assert.rejects(store.create("c1", upInput("a", "pw")), hasCode("CREDENTIAL_ALREADY_EXISTS"));
    await assert.rejects(store.update("c1", upInput("zz", "pw")), hasCode("CREDENTIAL_NOT_FOUND"));
    await assert.rejects(store.delete("c1", "zz"), hasCode("CREDENTIAL_NOT_FOUND"));
    await assert.rejects(store.getSecret("c1", "zz"), hasCode("CREDENTIAL_NOT_FOUND"));
  });

  it("will not decrypt a secret copied into another credential's row", async () => {
    await store.create("c1", upInput("a", "pw-a"));
    await store.create("c1", upInput("b", "pw-b"));
    const a = await db.selectFrom("credentials").selectAll().where("id", "=", "a").executeTakeFirstOrThrow();
    await db
      .updateTable("credentials")
      .set({ secret_iv: a.secret_iv, secret_tag: a.secret_tag, secret_ciphertext: a.secret_ciphertext })
      .where("id", "=", "b")
      .execute();
    await assert.rejects(store.getSecret("c1", "b"), hasCode("SECRET_UNDECRYPTABLE"));
  });

  it("advances updatedAt on every update, even within one millisecond", async () => {
    const created = await store.create("c1", upInput("a", "pw"));
    const first = await store.update("c1", upInput("a", "pw2"));
    const second = await store.update("c1", upInput("a", "pw3"));
    assert.ok(first.updatedAt > created.updatedAt && second.updatedAt > first.updatedAt);
    assert.equal(second.createdAt, created.createdAt);
  });

  it("lists ids in byte order, whatever the database's collation", async () => {
    // The test server's default collation is ICU en-US, which would give 9 a a-b a.b a_b b B Z.
    for (const id of ["b", "a_b", "Z", "a.b", "a", "9", "a-b", "B"]) await store.create("c1", upInput(id, "pw"));
    assert.deepEqual((await store.list("c1")).map((c) => c.id), ["9", "B", "Z", "a", "a-b", "a.b", "a_b", "b"]);
  });

  it("refuses to start with a master key other than the data directory's", async () => {
    const options = { dataDir: target.dataDir, databaseUrl: target.databaseUrl, port: 0 };
    const engine = await createEngine(options);
    await engine.close();
    writeFileSync(join(target.dataDir, "master.key"), randomBytes(32).toString("base64"));
    await assert.rejects(createEngine(options), hasCode("MASTER_KEY_INVALID"));
  });
});

describe("engine: master key", function () {
  let dataDir: string;
  beforeEach(() => (dataDir = mkdtempSync(join(tmpdir(), "imageport-key-test-"))));
  afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

  it("takes the key from IMAGEPORT_MASTER_KEY when set, and refuses one of the wrong size", () => {
    const key = randomBytes(32);
    assert.deepEqual(loadMasterKey(dataDir, { [MASTER_KEY_ENV]: key.toString("base64") }), key);
    assert.throws(
      () => loadMasterKey(dataDir, { [MASTER_KEY_ENV]: randomBytes(16).toString("base64") }),
      hasCode("MASTER_KEY_INVALID"),
    );
  });
});
