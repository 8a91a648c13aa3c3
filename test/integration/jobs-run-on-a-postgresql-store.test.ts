import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Client } from "pg";
import { ImageportClient } from "../../client";
import { Job } from "../../client/jobs";
import { waitForJob } from "../../client/waiter";
import { makeSparseDisk, qemuCompare } from "../helpers/disks";
import { makeDataDir, startTestEngine, TEST_CLIENT, TestEngine } from "../helpers/engine-harness";
import { usePostgres } from "../helpers/postgres";

const MIB = 1024 * 1024;

describe("jobs with the engine's store on PostgreSQL", function () {
  this.timeout(120_000);
  const pg = usePostgres();
  let engine: TestEngine | undefined;
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "imageport-pg-jobs-"));
  });
  after(async () => {
    await engine?.close({ removeData: true });
    rmSync(root, { recursive: true, force: true });
  });

  it("queue, run and record an export exactly as on SQLite, with the job rows in PostgreSQL", async () => {
    const url = await pg.newDatabase();
    engine = await startTestEngine({ dataDir: makeDataDir(), databaseUrl: url });
    const client = new ImageportClient({ endpoint: engine.engine.url, credentials: { customerId: engine.customerId, ...TEST_CLIENT }, retries: 0 });
    const input = join(root, "in");
    const output = join(root, "out");
    mkdirSync(input);
    mkdirSync(output);
    await makeSparseDisk({ path: join(input, "src.vmdk"), format: "vmdk", virtualSize: 24 * MIB, dataBytes: 4 * MIB, seed: 9 });

    const job = (await client.jobs.start("export", {
      inputStorageLocation: { location: pathToFileURL(input).href + "/" },
      inputImageFilename: "src.vmdk",
      outputStorageLocation: { location: pathToFileURL(output).href + "/" },
      outputImageFilename: "src.vhd",
      outputImageFormat: "vhd",
    })) as Job;
    const done = await waitForJob(client.jobs, job.id, { maxWaitMs: 60_000, minDelayMs: 100, maxDelayMs: 500 });
    assert.equal(done.last?.status, "complete", JSON.stringify(done.last?.error));
    assert.ok(await qemuCompare(join(input, "src.vmdk"), "vmdk", join(output, "src.vhd"), "vhd"));

    const db = new Client({ connectionString: url });
    await db.connect();
    try {
      const rows = await db.query<{ id: string; status: string; artifacts: string }>("select id, status, artifacts from jobs");
      assert.deepEqual(rows.rows.map((r) => [r.id, r.status]), [[job.id, "complete"]]);
      const artifacts = done.last!.additionalInfo.artifacts as { blockDigest: string };
      assert.match(artifacts.blockDigest, /^[0-9a-f]{64}$/);
      assert.equal(JSON.parse(rows.rows[0]!.artifacts).blockDigest, artifacts.blockDigest);
      const connectors = await db.query<{ embedded: number; resource_location_id: string }>("select embedded, resource_location_id from connectors");
      assert.deepEqual(connectors.rows, [{ embedded: 1, resource_location_id: "local" }]);
    } finally {
      await db.end();
    }
  });
});
