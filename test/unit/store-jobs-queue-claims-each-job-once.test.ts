import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Kysely } from "kysely";
import { Database } from "../../engine/store/schema";
import { JobStore, MAX_ATTEMPTS } from "../../engine/store/job-store";
import { JobReport } from "../../engine/jobs/model";
import { forEachBackend } from "../helpers/stores";

const CUSTOMER = "c1";
const LOCATION = { id: "loc", maxConcurrentJobs: 4 };

async function insertJobs(store: JobStore, n: number, location = LOCATION.id): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    await store.insert(CUSTOMER, { id, type: "export", resourceLocationId: location, parameters: { i }, steps: ["validate", "convert"], timeoutSeconds: 60 });
    ids.push(id);
  }
  return ids;
}

const progress = (status: JobReport["status"]): JobReport => ({ status, overallProgressPercent: status === "complete" ? 100 : 10, steps: [], warnings: [] });

forEachBackend("job store: the queue", (backend) => {
  let db: Kysely<Database>;
  let store: JobStore;
  beforeEach(async () => {
    db = await (await backend.fresh()).open();
    store = new JobStore(db);
  });

  it("hands each job to exactly one of many connectors claiming at once", async () => {
    const ids = await insertJobs(store, 12);
    const location = { id: LOCATION.id, maxConcurrentJobs: 100 };
    const claims = await Promise.all(
      Array.from({ length: 30 }, (_, i) => store.claim(CUSTOMER, `conn-${i % 6}`, location, 100, 30_000)),
    );
    const claimed = claims.filter((c) => c !== undefined).map((c) => c!.view.id);
    assert.equal(new Set(claimed).size, claimed.length, "no job claimed twice");
    assert.deepEqual([...claimed].sort(), [...ids].sort(), "every job claimed");
  });

  it("keeps to the location's and the connector's limits", async () => {
    await insertJobs(store, 6);
    const location = { id: LOCATION.id, maxConcurrentJobs: 3 };
    assert.ok(await store.claim(CUSTOMER, "a", location, 1, 30_000));
    assert.equal(await store.claim(CUSTOMER, "a", location, 1, 30_000), undefined, "connector a is at its limit of 1");
    assert.ok(await store.claim(CUSTOMER, "b", location, 5, 30_000));
    assert.ok(await store.claim(CUSTOMER, "b", location, 5, 30_000));
    assert.equal(await store.claim(CUSTOMER, "c", location, 5, 30_000), undefined, "the location is at its limit of 3");
  });

  it("hands out the oldest job first and only the location's own jobs", async () => {
    const [first] = await insertJobs(store, 1);
    await insertJobs(store, 1, "elsewhere");
    await insertJobs(store, 1);
    assert.equal((await store.claim(CUSTOMER, "a", LOCATION, 5, 30_000))?.view.id, first);
  });

  it("pages newest first without overlap or gaps", async () => {
    const ids = await insertJobs(store, 7);
    const seen: string[] = [];
    let after: { createdAt: string; id: string } | undefined;
    for (let page = 0; page < 10; page++) {
      const items = await store.list(CUSTOMER, { pageSize: 3, after });
      if (items.length === 0) break;
      seen.push(...items.map((j) => j.id));
      const last = items[items.length - 1]!;
      after = { createdAt: last.createdAt, id: last.id };
    }
    assert.equal(seen.length, 7);
    assert.deepEqual([...seen].sort(), [...ids].sort());
    assert.equal(seen[seen.length - 1], ids[0], "the oldest comes last");
  });

  it("accepts reports only from the connector holding the job", async () => {
    await insertJobs(store, 1);
    const claim = await store.claim(CUSTOMER, "a", LOCATION, 5, 30_000);
    const id = claim!.view.id;
    assert.equal(await store.report(CUSTOMER, id, "b", progress("inProgress"), 30_000), undefined);
    assert.deepEqual(await store.report(CUSTOMER, id, "a", progress("complete"), 30_000), { cancelRequested: false });
    assert.equal((await store.get(CUSTOMER, id))?.status, "complete");
    assert.equal(await store.report(CUSTOMER, id, "a", progress("inProgress"), 30_000), undefined, "a finished job takes no more reports");
  });

  it("starts a job again when its runner is lost, and fails it after the last attempt", async () => {
    const [id] = await insertJobs(store, 1);
    const lost = { code: "ENGINE_RESTARTED" as const, message: "The engine stopped." };
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const claim = await store.claim(CUSTOMER, "a", LOCATION, 5, 30_000);
      assert.equal(claim?.view.attempt, attempt);
      const [back] = await store.takeBack({ connectorId: "a" }, lost);
      if (attempt < MAX_ATTEMPTS) {
        assert.equal(back?.status, "notStarted");
        assert.equal(back?.warnings.length, attempt);
        assert.equal(back?.warnings[attempt - 1]?.code, "ENGINE_RESTARTED");
      } else {
        assert.equal(back?.status, "failed");
        assert.equal(back?.error?.code, "ENGINE_RESTARTED");
        assert.match(back!.error!.message, new RegExp(`attempt ${MAX_ATTEMPTS} of ${MAX_ATTEMPTS}`));
      }
    }
    assert.equal((await store.get(CUSTOMER, id!))?.status, "failed");
  });

  it("takes back only jobs whose lease has expired", async () => {
    await insertJobs(store, 2);
    await store.claim(CUSTOMER, "a", LOCATION, 5, -1_000); // already expired
    await store.claim(CUSTOMER, "b", LOCATION, 5, 60_000);
    const back = await store.takeBack({ leaseExpiredBefore: new Date().toISOString() }, { code: "CONNECTOR_LOST", message: "Lost." });
    assert.equal(back.length, 1);
    assert.equal(back[0]!.warnings[0]!.code, "CONNECTOR_LOST");
  });

  it("cancels a waiting job at once and a running one by request", async () => {
    const [waiting, running] = await insertJobs(store, 2);
    const claim = await store.claim(CUSTOMER, "a", { id: LOCATION.id, maxConcurrentJobs: 4 }, 5, 30_000);
    assert.equal(claim?.view.id, waiting, "the oldest was claimed");
    const cancelledRunning = await store.requestCancel(CUSTOMER, waiting!);
    assert.equal(cancelledRunning?.status, "inProgress");
    assert.equal(cancelledRunning?.cancelRequested, true);
    assert.deepEqual(await store.report(CUSTOMER, waiting!, "a", progress("inProgress"), 30_000), { cancelRequested: true });
    assert.deepEqual(await store.renewLeases(CUSTOMER, "a", [waiting!], 30_000), [waiting]);
    const cancelledWaiting = await store.requestCancel(CUSTOMER, running!);
    assert.equal(cancelledWaiting?.status, "cancelled");
    assert.equal(cancelledWaiting?.error?.code, "JOB_CANCELLED");
  });
});
