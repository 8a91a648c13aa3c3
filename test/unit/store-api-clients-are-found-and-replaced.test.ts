import assert from "node:assert/strict";
import { Kysely } from "kysely";
import { KyselyApiClientStore } from "../../engine/store/api-client-store";
import { Database } from "../../engine/store/schema";
import { forEachBackend } from "../helpers/stores";

forEachBackend("store: API clients", (backend) => {
  let db: Kysely<Database>;
  let clients: KyselyApiClientStore;
  beforeEach(async () => {
    db = await (await backend.fresh()).open();
    clients = new KyselyApiClientStore(db);
  });

  it("finds a client by id and nothing for an unknown id", async () => {
    await clients.put({ clientId: "cli-1", customerId: "cust-a", secretHash: "hash-1" });
    assert.deepEqual(await clients.find("cli-1"), { clientId: "cli-1", customerId: "cust-a", secretHash: "hash-1", role: "user" });
    assert.equal(await clients.find("cli-2"), undefined);
    assert.equal(await clients.find("CLI-1"), undefined, "ids are case-sensitive");
  });

  it("replaces the customer and secret hash of an existing client, keeping one row and its creation time", async () => {
    await clients.put({ clientId: "cli-1", customerId: "cust-a", secretHash: "hash-1" });
    const before = await db.selectFrom("api_clients").select("created_at").executeTakeFirstOrThrow();
    await new Promise((r) => setTimeout(r, 5));
    await clients.put({ clientId: "cli-1", customerId: "cust-b", secretHash: "hash-2" });
    assert.deepEqual(await clients.find("cli-1"), { clientId: "cli-1", customerId: "cust-b", secretHash: "hash-2", role: "user" });
    const rows = await db.selectFrom("api_clients").select("created_at").execute();
    assert.deepEqual(rows, [before]);
  });

  it("lets concurrent puts of one client all succeed, the last write winning whole", async () => {
    // On PostgreSQL these run on separate pooled connections; ON CONFLICT makes the upsert atomic.
    const puts = Array.from({ length: 8 }, (_, i) =>
      clients.put({ clientId: "cli-1", customerId: `cust-${i}`, secretHash: `hash-${i}` }),
    );
    await Promise.all(puts);
    const found = await clients.find("cli-1");
    assert.ok(found && found.customerId.replace("cust-", "") === found.secretHash.replace("hash-", ""), JSON.stringify(found));
    const count = await db.selectFrom("api_clients").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
    assert.equal(count.n, 1); // a number on both: PostgreSQL's bigint count is not left a string
  });
});
